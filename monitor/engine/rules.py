"""The rules: which findings hold at each counted sodium result of a patient.

Pure: the series, the diagnoses and the policy are arguments; no clock is read. Every number
comes from the policy profile (monitor.engine.policy, sources in docs/clinical-rules.md).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.engine.episodes import Episode, episode_index, find_episodes
from monitor.engine.model import Finding, Measurement, Method
from monitor.engine.policy import Policy
from monitor.engine.risk import POTASSIUM_LOW, SODIUM_LOW, factors_from_diagnoses
from monitor.engine.windows import HOUR, lowest, slope_per_hour, window_bounds

OVERCORRECTION_24H = "OVERCORRECTION_24H"
OVERCORRECTION_48H = "OVERCORRECTION_48H"
PROJECTED_OVERCORRECTION = "PROJECTED_OVERCORRECTION"
SEVERE_HYPONATREMIA = "SEVERE_HYPONATREMIA"
FALLING_SODIUM = "FALLING_SODIUM"
HYPERNATREMIA = "HYPERNATREMIA"
RATE_RULES = frozenset({OVERCORRECTION_24H, OVERCORRECTION_48H, PROJECTED_OVERCORRECTION})
ALL_RULES = (OVERCORRECTION_24H, OVERCORRECTION_48H, PROJECTED_OVERCORRECTION,
             SEVERE_HYPONATREMIA, FALLING_SODIUM, HYPERNATREMIA)


@dataclass(frozen=True, slots=True)
class PatientData:
    """What the rules need of one patient. `sodium` and `potassium` are sorted by time."""

    sodium: Sequence[Measurement]
    potassium: Sequence[Measurement] = ()
    diagnosis_codes: frozenset[str] = frozenset()
    # Times a clinician marked as inside an acute episode (onset < 48 h, documented).
    acute_marks: tuple[datetime, ...] = ()


@dataclass(slots=True)
class _Context:
    times: list[float]
    values: list[float]
    methods: list[Method]
    episodes: list[Episode]
    owner: list[int | None]
    acute: set[int]
    k_times: list[float]
    k_values: list[float]
    diagnosed: frozenset[str]
    policy: Policy


def evaluate(data: PatientData, policy: Policy, since: datetime | None = None) -> list[Finding]:
    """Findings at every sodium result collected at or after `since` (all when None)."""
    ctx = _context(data, policy)
    first = 0 if since is None else bisect_left(ctx.times, since.timestamp())
    findings: list[Finding] = []
    for i in range(first, len(ctx.times)):
        findings.extend(_findings_at(i, data.sodium[i], ctx))
    return findings


def _context(data: PatientData, policy: Policy) -> _Context:
    times = [m.collected_at.timestamp() for m in data.sodium]
    values = [m.value_mmol_l for m in data.sodium]
    episodes = find_episodes(times, values, policy)
    marks = [m.timestamp() for m in data.acute_marks]
    acute = {
        k for k, ep in enumerate(episodes)
        if any(ep.start <= mark and (ep.end is None or mark <= ep.end) for mark in marks)
    }
    return _Context(
        times=times, values=values, methods=[m.method for m in data.sodium],
        episodes=episodes, owner=episode_index(episodes, len(times)), acute=acute,
        k_times=[m.collected_at.timestamp() for m in data.potassium],
        k_values=[m.value_mmol_l for m in data.potassium],
        diagnosed=factors_from_diagnoses(data.diagnosis_codes, policy), policy=policy,
    )


def _risk_factors(i: int, ctx: _Context) -> tuple[str, ...]:
    """Diagnoses apply to every result; lab-derived factors to the current episode (Na) and
    the current episode or the look-back before the result (K)."""
    factors = set(ctx.diagnosed)
    t, k = ctx.times[i], ctx.owner[i]
    since = t
    if k is not None:
        episode = ctx.episodes[k]
        since = episode.start
        if min(ctx.values[episode.first : i + 1]) <= ctx.policy.lab_risk.sodium_at_or_below:
            factors.add(SODIUM_LOW)
    since = min(since, t - ctx.policy.lab_risk.potassium_lookback_hours * HOUR)
    lo, hi = bisect_left(ctx.k_times, since), bisect_right(ctx.k_times, t)
    if any(v < ctx.policy.lab_risk.potassium_below for v in ctx.k_values[lo:hi]):
        factors.add(POTASSIUM_LOW)
    return tuple(sorted(factors))


def _limit_24h(i: int, high: bool, ctx: _Context) -> float:
    tier = ctx.policy.tier_limits(high)
    k = ctx.owner[i]
    if (tier.first_day_rise_24h is not None and k is not None
            and ctx.times[i] - ctx.episodes[k].start <= 24 * HOUR):
        return tier.first_day_rise_24h
    return tier.rise_24h


def _findings_at(i: int, m: Measurement, ctx: _Context) -> list[Finding]:
    p, v, t = ctx.policy, ctx.values[i], ctx.times[i]
    factors = _risk_factors(i, ctx)
    high = bool(factors)
    base: dict[str, Any] = {
        "result_key": m.result_key, "collected_at": m.collected_at, "value_mmol_l": v,
        "risk_tier": "high" if high else "standard", "risk_factors": factors}
    out: list[Finding] = []
    rate_allowed = _not_acute(i, ctx)
    limit_24h = _limit_24h(i, high, ctx)
    for rule, hours, limit in ((OVERCORRECTION_24H, 24.0, limit_24h),
                               (OVERCORRECTION_48H, 48.0, p.tier_limits(high).rise_48h)):
        lo, hi = window_bounds(ctx.times, t, hours)
        low, low_at = lowest(ctx.values, lo, hi)
        rise = v - low
        # A rise that starts inside an acute episode is exempt even after the episode ended.
        exempt = not (rate_allowed and _not_acute(low_at, ctx))
        if not exempt and rise > limit and low <= p.bands.hyponatremia_max:
            severity = "critical" if low <= p.rates.critical_baseline_max else "warning"
            out.append(Finding(rule=rule, severity=severity, rise_mmol_l=rise,
                               window_hours=hours, limit_mmol_l=limit,
                               mixed_methods=_mixed(ctx.methods, lo, hi),
                               extra={"low_mmol_l": low}, **base))
    if rate_allowed and not any(f.rule == OVERCORRECTION_24H for f in out):
        projected = _projection(i, limit_24h, ctx)
        if projected is not None:
            out.append(Finding(rule=PROJECTED_OVERCORRECTION, severity="warning", **projected,
                               **base))
    if v < p.bands.severe_below:
        out.append(Finding(rule=SEVERE_HYPONATREMIA, severity="critical", rise_mmol_l=None,
                           window_hours=None, limit_mmol_l=p.bands.severe_below, **base))
    fall = _fall(i, ctx)
    if v <= p.bands.hyponatremia_max and fall is not None and fall >= p.rates.falling_drop:
        out.append(Finding(rule=FALLING_SODIUM, severity="warning", rise_mmol_l=-fall,
                           window_hours=p.rates.falling_window_hours,
                           limit_mmol_l=p.rates.falling_drop, **base))
    if v > p.bands.hypernatremia_above:
        out.append(Finding(rule=HYPERNATREMIA, severity="warning", rise_mmol_l=None,
                           window_hours=None, limit_mmol_l=p.bands.hypernatremia_above, **base))
    return out


def _not_acute(i: int, ctx: _Context) -> bool:
    """European 2014: no correction limit in acute (< 48 h, documented) hyponatremia."""
    return ctx.owner[i] is None or ctx.owner[i] not in ctx.acute


def _mixed(methods: Sequence[Method], lo: int, hi: int) -> bool:
    return len({methods[j] for j in range(lo, hi)}) > 1


def _projection(i: int, limit: float, ctx: _Context) -> dict[str, Any] | None:
    """Rise so far plus velocity times the hours left until 24 h after the window's nadir."""
    p, t, v = ctx.policy, ctx.times[i], ctx.values[i]
    lo, hi = window_bounds(ctx.times, t, 24)
    low, low_at = lowest(ctx.values, lo, hi)
    rise = v - low
    if not _not_acute(low_at, ctx) or low > p.bands.hyponatremia_max:
        return None
    if rise < limit * p.rates.projection_trigger_fraction:
        return None
    vlo, vhi = window_bounds(ctx.times, t, p.rates.projection_lookback_hours)
    if vhi - vlo < p.rates.projection_min_points:
        return None
    if ctx.times[vhi - 1] - ctx.times[vlo] < p.rates.projection_min_span_hours * HOUR:
        return None
    velocity = slope_per_hour(ctx.times, ctx.values, vlo, vhi)
    hours_left = (ctx.times[low_at] + 24 * HOUR - t) / HOUR
    projected = rise + velocity * hours_left
    if velocity <= 0 or projected <= limit:
        return None
    return {"rise_mmol_l": rise, "window_hours": 24.0, "limit_mmol_l": limit,
            "mixed_methods": _mixed(ctx.methods, lo, hi),
            "extra": {"low_mmol_l": low, "velocity_mmol_l_h": round(velocity, 3),
                      "projected_rise_mmol_l": round(projected, 1)}}


def _fall(i: int, ctx: _Context) -> float | None:
    """How far the value lies below the highest value of the preceding window."""
    t = ctx.times[i]
    lo = bisect_left(ctx.times, t - ctx.policy.rates.falling_window_hours * HOUR)
    hi = bisect_left(ctx.times, t)
    if hi <= lo:
        return None
    return max(ctx.values[lo:hi]) - ctx.values[i]
