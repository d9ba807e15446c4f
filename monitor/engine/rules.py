"""The rules: which findings hold at each counted sodium result of a patient.

Pure: the series, the diagnoses and the policy are arguments; no clock is read. Every number
comes from the policy profile (monitor.engine.policy, sources in docs/clinical-rules.md).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.engine.episodes import Episode, episode_index, find_episodes
from monitor.engine.fluids import AQUARESIS_WARNING
from monitor.engine.limits import Window, bounds_at, sparing_onset
from monitor.engine.model import Diagnosis, Finding, Measurement, Method
from monitor.engine.policy import Policy
from monitor.engine.risk import POTASSIUM_LOW, SODIUM_LOW, Held, held_factors
from monitor.engine.windows import HOUR, lowest, slope_per_hour, window_bounds

OVERCORRECTION_24H = "OVERCORRECTION_24H"
OVERCORRECTION_48H = "OVERCORRECTION_48H"
PROJECTED_OVERCORRECTION = "PROJECTED_OVERCORRECTION"
SEVERE_HYPONATREMIA = "SEVERE_HYPONATREMIA"
FALLING_SODIUM = "FALLING_SODIUM"
HYPERNATREMIA = "HYPERNATREMIA"
HYPERNATREMIA_LOWERED_TOO_FAST = "HYPERNATREMIA_LOWERED_TOO_FAST"
RATE_RULES = frozenset({OVERCORRECTION_24H, OVERCORRECTION_48H, PROJECTED_OVERCORRECTION})
# Read by the ledger from medication orders (engine.treatment).
HYPERTONIC_SALINE_MILD = "HYPERTONIC_SALINE_MILD"
ALL_RULES = (OVERCORRECTION_24H, OVERCORRECTION_48H, PROJECTED_OVERCORRECTION,
             SEVERE_HYPONATREMIA, FALLING_SODIUM, HYPERNATREMIA, HYPERNATREMIA_LOWERED_TOO_FAST,
             AQUARESIS_WARNING, HYPERTONIC_SALINE_MILD)


@dataclass(frozen=True, slots=True)
class PatientData:
    """What the rules need of one patient. `sodium` and `potassium` are sorted by time."""

    sodium: Sequence[Measurement]
    potassium: Sequence[Measurement] = ()
    # Each source's current statement of each diagnosis; the rules judge their spans.
    diagnoses: Sequence[Diagnosis] = ()
    # Documented onsets of acute hyponatremia (< 48 h, Spasovski 2014), one per clinician
    # mark: windows whose lowest value lies within `episodes.acute_hours` of one are exempt
    # from the rate rules.
    acute_marks: tuple[datetime, ...] = ()


@dataclass(slots=True)
class Columns:
    """A series sorted by (collection time, key), as parallel columns. Callers that
    evaluate the same patient often (replay) keep one and update it in place."""

    measurements: list[Measurement] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # epoch seconds
    values: list[float] = field(default_factory=list)  # mmol/L
    methods: list[Method] = field(default_factory=list)

    @classmethod
    def of(cls, measurements: Sequence[Measurement]) -> Columns:
        cols = cls()
        for m in sorted(measurements, key=lambda x: (x.collected_at, x.result_key)):
            cols._put(len(cols.times), m)
        return cols

    def insert(self, m: Measurement) -> None:
        t = m.collected_at.timestamp()
        if not self.times or t > self.times[-1]:
            self._put(len(self.times), m)  # in collection order: the usual case
            return
        i = bisect_right(self.times, t)
        key = m.result_key
        while i > 0 and self.times[i - 1] == t and self.measurements[i - 1].result_key > key:
            i -= 1
        self._put(i, m)

    def remove(self, key: str, collected_at: datetime) -> None:
        t = collected_at.timestamp()
        i = bisect_left(self.times, t)
        while i < len(self.times) and self.times[i] == t:
            if self.measurements[i].result_key == key:
                for column in (self.measurements, self.times, self.values, self.methods):
                    del column[i]
                return
            i += 1

    def _put(self, i: int, m: Measurement) -> None:
        self.measurements.insert(i, m)
        self.times.insert(i, m.collected_at.timestamp())
        self.values.insert(i, m.value_mmol_l)
        self.methods.insert(i, m.method)


@dataclass(slots=True)
class Context:
    times: list[float]
    values: list[float]
    methods: list[Method]
    episodes: list[Episode]
    owner: list[int | None]
    onsets: list[float]  # sorted epoch seconds of the acute marks' onsets
    k_times: list[float]
    k_values: list[float]
    held: tuple[Held, ...]  # the diagnoses' risk factors, each over its span
    policy: Policy
    # Results collected from here on are new (appended in collection order): a projection
    # they expire was raised when it was found and is withdrawn by the ledger, as it would
    # have been had they arrived one by one.
    known_until: float = math.inf


def evaluate(data: PatientData, policy: Policy, since: datetime | None = None) -> list[Finding]:
    """Findings at every sodium result collected at or after `since` (all when None)."""
    return evaluate_columns(Columns.of(data.sodium), Columns.of(data.potassium),
                            data.diagnoses, data.acute_marks, policy, since)


def evaluate_columns(sodium: Columns, potassium: Columns, diagnoses: Iterable[Diagnosis],
                     acute_marks: Sequence[datetime], policy: Policy,
                     since: datetime | None = None,
                     known_until: float = math.inf) -> list[Finding]:
    """As `evaluate`, on series already in columns. Results collected at or after
    `known_until` (epoch seconds) are new appends (see `projection_expired`)."""
    ctx = context(sodium, potassium, diagnoses, acute_marks, policy)
    ctx.known_until = known_until
    first = 0 if since is None else bisect_left(ctx.times, since.timestamp())
    findings: list[Finding] = []
    for i in range(first, len(ctx.times)):
        findings.extend(_findings_at(i, sodium.measurements[i], ctx))
    return findings


def context(sodium: Columns, potassium: Columns, diagnoses: Iterable[Diagnosis],
            acute_marks: Sequence[datetime], policy: Policy) -> Context:
    """What the rules read of a patient, built once per evaluation (and per chart)."""
    episodes = find_episodes(sodium.times, sodium.values, policy)
    return Context(
        times=sodium.times, values=sodium.values, methods=sodium.methods, episodes=episodes,
        owner=episode_index(episodes, len(sodium.times)),
        onsets=sorted(m.timestamp() for m in acute_marks),
        k_times=potassium.times, k_values=potassium.values,
        held=held_factors(diagnoses, policy), policy=policy,
    )


def episode_start(i: int, ctx: Context) -> float | None:
    """When the episode holding result i began (epoch seconds); None outside one."""
    k = ctx.owner[i]
    return None if k is None else ctx.episodes[k].start


def risk_factors_at(i: int, ctx: Context) -> tuple[str, ...]:
    """Diagnoses apply to the results collected within their spans (risk.held_span);
    lab-derived factors to the current episode (Na) and the current episode or the look-back
    before the result (K)."""
    lab = ctx.policy.lab_risk
    t, k = ctx.times[i], ctx.owner[i]
    since = t
    sodium_low = False
    if k is not None:
        episode = ctx.episodes[k]
        since = episode.start
        sodium_low = min(ctx.values[episode.first : i + 1]) <= lab.sodium_at_or_below
    potassium_low = False
    if ctx.k_times:
        since = min(since, t - lab.potassium_lookback_hours * HOUR)
        lo, hi = bisect_left(ctx.k_times, since), bisect_right(ctx.k_times, t)
        potassium_low = any(v < lab.potassium_below for v in ctx.k_values[lo:hi])
    diagnosed = {h.factor for h in ctx.held if h.covers(t)}
    if not (sodium_low or potassium_low or diagnosed):
        return ()
    factors = diagnosed
    if sodium_low:
        factors.add(SODIUM_LOW)
    if potassium_low:
        factors.add(POTASSIUM_LOW)
    return tuple(sorted(factors))


def _findings_at(i: int, m: Measurement, ctx: Context) -> list[Finding]:
    p, v, t = ctx.policy, ctx.values[i], ctx.times[i]
    factors = risk_factors_at(i, ctx)
    high = bool(factors)
    out: list[Finding] = []
    # The latest value jumped: until the next sample confirms or reverses it (a reversal
    # makes it a suspected artefact, see PatientLedger._spike), findings say to redraw.
    # A jump over a long gap may be the patient's course; one within hours is implausible.
    jumped = i == len(ctx.times) - 1 and i > 0 and \
        abs(v - ctx.values[i - 1]) >= p.artefacts.jump_mmol_l and \
        t - ctx.times[i - 1] <= p.artefacts.confirm_hours * HOUR

    def found(rule: str, severity: str, **numbers: Any) -> None:
        if jumped:
            numbers["extra"] = {**numbers.get("extra", {}), "unconfirmed_jump": 1.0}
        if m.measured_mmol_l is not None:  # the rules saw the glucose-corrected value
            numbers["extra"] = {**numbers.get("extra", {}), "measured_mmol_l": m.measured_mmol_l}
        out.append(Finding(rule=rule, severity=severity, result_key=m.result_key,
                           collected_at=m.collected_at, value_mmol_l=v,
                           risk_tier="high" if high else "standard", risk_factors=factors,
                           **numbers))

    bounds = bounds_at(ctx.times, ctx.values, t, episode_start(i, ctx), ctx.onsets, high, p)
    window_24h: Window | None = None
    exempt_24h, limit_24h = False, p.tier_limits(high).rise_24h
    for b in bounds:
        w = b.window
        if b.hours == 24.0:
            window_24h, exempt_24h, limit_24h = w, b.exempt, b.limit
        raw = v - w.start
        adjusted = raw + _method_shift(ctx.methods[w.anchor], ctx.methods[i], p)
        if b.applies and max(raw, adjusted) > b.limit:
            first = w.anchor if w.interpolated else w.lo
            extra = _from(w, ctx, t)
            # A raw rise above the limit is never explained away; one that is above it
            # only once the methods are put on one scale is a warning asking for a lab value.
            only_adjusted = raw <= b.limit
            if only_adjusted:
                extra["method_adjusted"] = 1.0
            found(OVERCORRECTION_24H if b.hours == 24.0 else OVERCORRECTION_48H,
                  "critical" if w.start <= p.rates.critical_baseline_max and not only_adjusted
                  else "warning",
                  rise_mmol_l=adjusted if only_adjusted else raw, window_hours=b.hours,
                  limit_mmol_l=b.limit,
                  mixed_methods=only_adjusted or _mixed(ctx.methods, first, w.hi),
                  extra=extra)
    fired_24h = bool(out) and out[0].rule == OVERCORRECTION_24H
    if not exempt_24h and not fired_24h and window_24h is not None:
        projected = _projection(i, limit_24h, window_24h, ctx)
        if projected is not None:
            found(PROJECTED_OVERCORRECTION, "warning", **projected)
    if v < p.bands.severe_below:
        found(SEVERE_HYPONATREMIA, "critical", rise_mmol_l=None, window_hours=None,
              limit_mmol_l=p.bands.severe_below)
    if v <= p.bands.hyponatremia_max:
        fall = _fall(i, ctx)
        if fall is not None and fall >= p.rates.falling_drop:
            found(FALLING_SODIUM, "warning", rise_mmol_l=-fall,
                  window_hours=p.rates.falling_window_hours, limit_mmol_l=p.rates.falling_drop)
    if v > p.bands.hypernatremia_above:
        found(HYPERNATREMIA, "critical" if v >= p.bands.hypernatremia_critical else "warning",
              rise_mmol_l=None, window_hours=None, limit_mmol_l=p.bands.hypernatremia_above)
    lowered = _hypernatremia_fall(i, ctx)
    if lowered is not None and lowered > p.hypernatremia.lowering_24h:
        found(HYPERNATREMIA_LOWERED_TOO_FAST, "warning", rise_mmol_l=-lowered,
              window_hours=24.0, limit_mmol_l=p.hypernatremia.lowering_24h)
    return out


def _method_shift(start: Method, value: Method, p: Policy) -> float:
    """What a rise gains on the laboratory's scale: a point-of-care value reads about
    `poc_offset` lower, so lab -> poc understates the rise and poc -> lab overstates it."""
    if start is value:
        return 0.0
    if start is Method.LAB and value is Method.POINT_OF_CARE:
        return p.methods.poc_offset_mmol_l
    if start is Method.POINT_OF_CARE and value is Method.LAB:
        return -p.methods.poc_offset_mmol_l
    return 0.0


def _hypernatremia_fall(i: int, ctx: Context) -> float | None:
    """How far the value lies below the highest value above the hypernatremia band in the
    preceding 24 h (None when there is none)."""
    t, above = ctx.times[i], ctx.policy.bands.hypernatremia_above
    lo, hi = bisect_left(ctx.times, t - 24 * HOUR), bisect_left(ctx.times, t)
    top = max((x for x in ctx.values[lo:hi] if x > above), default=None)
    return None if top is None else top - ctx.values[i]


def _from(w: Window, ctx: Context, t: float) -> dict[str, float]:
    """The numbers a message quotes: the rule's starting value, and the real sample it
    rests on with the real span (the rise from it is the value minus `from_mmol_l`)."""
    return {"low_mmol_l": round(w.start, 2), "from_mmol_l": ctx.values[w.anchor],
            "from_at": ctx.times[w.anchor], "span_hours": (t - ctx.times[w.anchor]) / HOUR,
            "interpolated": float(w.interpolated)}


def _acute(anchor: int, ctx: Context) -> bool:
    return bool(ctx.onsets) and sparing_onset(ctx.times[anchor], ctx.onsets,
                                              ctx.policy.episodes.acute_hours) is not None


def _mixed(methods: Sequence[Method], lo: int, hi: int) -> bool:
    return len({methods[j] for j in range(lo, hi)}) > 1


def _projection(i: int, limit: float, window: Window, ctx: Context) -> dict[str, Any] | None:
    """Rise so far plus velocity times the hours left until 24 h after the window's nadir.
    The velocity counts only values from the nadir on: a fall before it says nothing about
    how fast sodium is rising now."""
    p, t, v = ctx.policy, ctx.times[i], ctx.values[i]
    # From the lowest counted value: an interpolated start lies 24 h back, with no hours
    # left to project over, while the question is where the rise from the nadir is going.
    low, nadir = lowest(ctx.values, window.lo, window.hi)
    rise = v - low
    if _acute(nadir, ctx) or low > p.bands.hyponatremia_max:
        return None
    if rise < limit * p.rates.projection_trigger_fraction:
        return None
    velocity = velocity_from(i, nadir, ctx)
    if velocity is None or not projection_evidenced(i, nadir, rise, ctx):
        return None
    nadir_at = ctx.times[nadir]
    hours_left = (nadir_at + 24 * HOUR - t) / HOUR
    projected = rise + velocity * hours_left
    if velocity <= 0 or projected <= limit:
        return None
    if projection_expired(nadir_at, ctx.times, ctx.known_until):
        return None  # withdrawn when that was known: re-evaluating must not raise it again
    limit_at = t + (limit - rise) / velocity * HOUR
    recheck_by = min(limit_at, t + p.monitoring.during_rate_alert_hours * HOUR)
    return {"rise_mmol_l": rise, "window_hours": 24.0, "limit_mmol_l": limit,
            "mixed_methods": _mixed(ctx.methods, window.lo, window.hi),
            "extra": {"low_mmol_l": low, "from_mmol_l": low, "from_at": nadir_at,
                      "velocity_mmol_l_h": round(velocity, 3),
                      "projected_rise_mmol_l": round(projected, 1),
                      "limit_at": limit_at, "recheck_by": recheck_by}}


def velocity_from(i: int, nadir: int, ctx: Context) -> float | None:
    """How fast sodium rises at result i (mmol/L per hour): the least-squares slope over the
    policy's look-back, counting only values from the nadir on (a fall before it says
    nothing about how fast sodium is rising now); None with fewer than two values or too
    few hours."""
    vlo, vhi = _velocity_span(i, nadir, ctx)
    if vhi - vlo < 2:
        return None
    if ctx.times[vhi - 1] - ctx.times[vlo] < ctx.policy.rates.projection_min_span_hours * HOUR:
        return None
    return slope_per_hour(ctx.times, ctx.values, vlo, vhi)


def projection_evidenced(i: int, nadir: int, rise: float, ctx: Context) -> bool:
    """Whether a slope is worth carrying forward. A line through two values is mostly their
    analytic error (127 -> 131 "projects" 12.5 mmol/L), so a projection needs
    `projection_min_points` values from the nadir, or a rise beyond
    `projection_min_rise_mmol_l`. From a critical baseline (nadir at or below
    `critical_baseline_max`) two values suffice: there the rise itself is critical-grade and
    a warning one sample late costs most (the shared contract: 114 -> 118 in 6 h projects)."""
    rates = ctx.policy.rates
    vlo, vhi = _velocity_span(i, nadir, ctx)
    return (vhi - vlo >= rates.projection_min_points or rise > rates.projection_min_rise_mmol_l
            or ctx.values[nadir] <= rates.critical_baseline_max)


def _velocity_span(i: int, nadir: int, ctx: Context) -> tuple[int, int]:
    vlo, vhi = window_bounds(ctx.times, ctx.times[i], ctx.policy.rates.projection_lookback_hours)
    return max(vlo, nadir), vhi


def projection_expired(nadir_at: float, times: Sequence[float],
                       known_until: float = math.inf) -> bool:
    """A projection speaks of the 24 h after its nadir: once a counted value collected 24 h
    or more after the nadir exists (among those collected before `known_until`), either
    the limit was crossed (an overcorrection alert says so) or it was not borne out. Either
    way it no longer holds. Monotone in the data, so arrival order cannot change it."""
    end = nadir_at + 24 * HOUR
    last = bisect_left(times, known_until) - 1
    return last >= 0 and times[last] >= end


def _fall(i: int, ctx: Context) -> float | None:
    """How far the value lies below the highest value of the preceding window."""
    t = ctx.times[i]
    lo = bisect_left(ctx.times, t - ctx.policy.rates.falling_window_hours * HOUR)
    hi = bisect_left(ctx.times, t)
    if hi <= lo:
        return None
    return max(ctx.values[lo:hi]) - ctx.values[i]


def still_present(rule: str, latest_mmol_l: float, policy: Policy) -> bool:
    """Whether a state alert's condition still holds at the latest sodium (mmol/L).

    Only the band rules clear: a rate alert never does, since the harm of a fast rise lies
    in its window, not in the value reached.
    """
    if rule == SEVERE_HYPONATREMIA:
        return latest_mmol_l < policy.bands.severe_below
    if rule == HYPERNATREMIA:
        return latest_mmol_l > policy.bands.hypernatremia_above
    return True
