"""AQUARESIS_WARNING: a water diuresis in an open hyponatremia episode.

Once the cause of ADH release is removed, overcorrection announces itself in the urine before
the next sodium: a water diuresis above about 100 mL/h (the European-guideline checklists'
figure, held as a project default until verified; dilute urine below 100 mOsm/kg, as Sterns &
Hix 2009 depict it). The numbers are profile parameters (docs/clinical-rules.md).

Pure: the urine results, the sodium series and the policy are arguments; no clock is read.

- Rate: a urine output's volume (mL) over its interval (`started_at` to `collected_at`), in
  mL/h. Outputs without an interval, or over more than `fluids.aquaresis_max_interval_hours`
  (a day's total says nothing of the last hours), are shown and never rated.
- A run: outputs above `fluids.aquaresis_ml_per_h`, each starting no later than
  `fluids.aquaresis_gap_minutes` after the run so far ends (contiguous or overlapping). A gap
  longer than that starts a new run: unmeasured hours are not assumed high. The finding holds
  at an output whose run covers at least `fluids.aquaresis_hours`.
- Osmolality: a urine osmolality below `fluids.aquaresis_osmolality_max` holds at once.
- Only in an open hyponatremia episode (engine.episodes) at the result's time.
- A *spell* is what the alert holds. The output branch holds from its finding to the next
  output rated at or below the rate; the osmolality branch from a low osmolality to the next
  one at or above the maximum; the episode's end ends both. When neither holds any more the
  spell is over: the alert resolves, with the reading that ended it, and a later diuresis
  raises a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from monitor.engine.episodes import Episode, find_episodes
from monitor.engine.model import Analyte, Finding, Measurement
from monitor.engine.policy import Policy
from monitor.engine.windows import HOUR
from monitor.engine.wording import clock
from monitor.engine.wording import number as _n

AQUARESIS_WARNING = "AQUARESIS_WARNING"
_OUTPUT, _OSMOLALITY, _EPISODE = "output", "osmolality", "episode"


@dataclass(frozen=True, slots=True)
class SpellEnd:
    """The latest moment the data shows no water diuresis, and why, in the pages' words."""

    at: float  # epoch seconds
    reason: str


def rate_ml_h(m: Measurement) -> float | None:
    """A urine output's rate (mL/h) over its interval; None without one."""
    return output_rate(m.value_mmol_l, m.started_at, m.collected_at)


def output_rate(volume_ml: float, start: datetime | None, end: datetime) -> float | None:
    """mL/h of a volume collected from `start` to `end`; None without an interval."""
    if start is None:
        return None
    hours = (end - start).total_seconds() / HOUR
    return volume_ml / hours if hours > 0 else None


def aquaresis(output: Sequence[Measurement], osmolality: Sequence[Measurement],
              sodium_times: Sequence[float], sodium_values: Sequence[float], policy: Policy,
              since: datetime | None = None) -> tuple[list[Finding], SpellEnd | None]:
    """The findings of the current spell collected at or after `since` (all when None), and
    the latest end of a spell (None when the data shows none)."""
    f = policy.fluids
    if not output and not osmolality:  # most patients: nothing to read
        return [], None
    episodes = find_episodes(sodium_times, sodium_values, policy)
    open_at = _episode_test(episodes, sodium_times, policy)
    # (time, order, branch, finding or None, reason): at one moment a finding before an end.
    events: list[tuple[float, int, str, Finding | None, str]] = []
    run_start = run_end = None
    for m in sorted(output, key=lambda x: (x.collected_at, x.result_key)):
        rate = rate_ml_h(m)
        if rate is None or m.started_at is None:
            continue
        start, end = m.started_at.timestamp(), m.collected_at.timestamp()
        if end - start > f.aquaresis_max_interval_hours * HOUR:
            continue
        if rate <= f.aquaresis_ml_per_h:
            run_start = run_end = None
            if open_at(end):
                events.append((end, 1, _OUTPUT, None, f"urine output {_n(round(rate))} mL/h "
                               f"at {clock(end)}, not above {_n(f.aquaresis_ml_per_h)} mL/h"))
            continue
        if run_start is None or run_end is None or \
                start > run_end + f.aquaresis_gap_minutes * 60:
            run_start, run_end = start, end
        else:
            run_start, run_end = min(run_start, start), max(run_end, end)
        hours = (run_end - run_start) / HOUR
        if hours >= f.aquaresis_hours and open_at(end):
            events.append((end, 0, _OUTPUT, _finding(m, rate, f.aquaresis_ml_per_h, {
                "rate_ml_h": round(rate, 1), "run_hours": round(hours, 2),
                "run_from_at": run_start}), ""))
    for m in osmolality:
        t = m.collected_at.timestamp()
        if not open_at(t):
            continue
        if m.value_mmol_l < f.aquaresis_osmolality_max:
            events.append((t, 0, _OSMOLALITY, _finding(
                m, m.value_mmol_l, f.aquaresis_osmolality_max,
                {"osmolality_mosm_kg": m.value_mmol_l}), ""))
        else:
            events.append((t, 1, _OSMOLALITY, None, f"urine osmolality "
                           f"{_n(m.value_mmol_l)} mOsm/kg at {clock(t)}, not below "
                           f"{_n(f.aquaresis_osmolality_max)}"))
    for end in (e.end for e in episodes if e.end is not None):  # an open one has none yet
        events.append((end, 1, _EPISODE, None, f"hyponatremia episode ended at {clock(end)}"))
    # Each branch holds from its finding to its own ending reading; the spell lasts while
    # either holds, and an episode's end ends both.
    spell: list[Finding] = []
    holding: set[str] = set()
    last_end: SpellEnd | None = None
    for t, _, branch, finding, reason in sorted(events, key=lambda e: (e[0], e[1])):
        if finding is not None:
            spell.append(finding)
            holding.add(branch)
            continue
        was = bool(holding)
        holding = set() if branch == _EPISODE else holding - {branch}
        if was and not holding:
            spell, last_end = [], SpellEnd(t, reason)
    cut = None if since is None else since.timestamp()
    return [x for x in spell if cut is None or x.collected_at.timestamp() >= cut], last_end


def _finding(m: Measurement, value: float, limit: float, extra: dict[str, float]) -> Finding:
    return Finding(rule=AQUARESIS_WARNING, severity="warning", result_key=m.result_key,
                   collected_at=m.collected_at, value_mmol_l=value, rise_mmol_l=None,
                   window_hours=extra.get("run_hours"), limit_mmol_l=limit,
                   risk_tier="standard", extra=extra)


def _episode_test(episodes: Sequence[Episode], times: Sequence[float], policy: Policy
                  ) -> Callable[[float], bool]:
    """Whether a moment (epoch seconds) lies in a hyponatremia episode: from its first low
    sodium to its end; an open one ends `gap_hours` after its last sodium (engine.episodes)."""
    gap = policy.episodes.gap_hours * HOUR
    spans = [(e.start, e.end if e.end is not None else times[e.last] + gap) for e in episodes]

    def inside(t: float) -> bool:
        return any(start <= t <= end for start, end in spans)
    return inside


def fluid_numbers(value: float | None, window_hours: float | None) -> str:
    """An AQUARESIS_WARNING alert's number as the board, the live list and notifications
    write it: a run's rate ("urine 260 mL/h for 2 h") or an osmolality (its finding has no
    hours)."""
    if window_hours is None:
        return f"urine osmolality {_n(value)} mOsm/kg"
    return f"urine {_n(None if value is None else round(value))} mL/h for {_n(window_hours)} h"


def aquaresis_message(f: Finding, policy: Policy, tz: tzinfo = UTC) -> str:
    """What the nurse reads: the numbers that show the diuresis, then what to do."""
    hours = _n(policy.fluids.recheck_hours)
    act = (f"water diuresis: sodium may rise fast; recheck sodium within {hours} h; "
           f"consider desmopressin per protocol.")
    if "osmolality_mosm_kg" in f.extra:
        return (f"Urine osmolality {_n(f.value_mmol_l)} mOsm/kg (below "
                f"{_n(f.limit_mmol_l or 0)}) in a hyponatremia episode — {act}")
    since = f.extra.get("run_from_at")
    start = f" since {clock(since, tz)}" if since is not None else ""
    return (f"Urine output {_n(round(f.value_mmol_l))} mL/h, above {_n(f.limit_mmol_l or 0)} "
            f"mL/h for {_n(round(f.window_hours or 0, 1))} h{start}, in a hyponatremia "
            f"episode — {act}")


FLUID_ANALYTES = (Analyte.URINE_OUTPUT, Analyte.URINE_OSMOLALITY)
