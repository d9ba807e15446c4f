"""The limit a sodium may reach at a moment: each window's starting value plus the rise the
policy allows over it. The rules judge a result against these bounds and the patient chart
draws them (the corridor), so both read one computation.

Pure. Times are epoch seconds, values mmol/L, windows hours; every number comes from the
policy profile (sources in docs/clinical-rules.md).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.engine.policy import Policy, TierLimits
from monitor.engine.windows import HOUR, lowest, window_bounds

WINDOWS_HOURS = (24.0, 48.0)


@dataclass(frozen=True, slots=True)
class Window:
    """Where a window's rise is measured from. `start` is the lowest counted value in
    [t - W, t], or the value at t - W interpolated between the samples around it when that
    is lower (daily draws drift: 121 at 07:00, 130 at 07:20 the next day is +8.9 in 24 h,
    not "no value 24 h ago"). `anchor` is the sample a message quotes: the lowest one, or
    the earlier of the two the interpolation used."""

    lo: int
    hi: int
    start: float
    anchor: int
    interpolated: bool


def window_at(times: Sequence[float], values: Sequence[float], t: float, hours: float,
              policy: Policy) -> Window | None:
    """The window [t - hours, t] of a sorted series; None when no value lies in it."""
    lo, hi = window_bounds(times, t, hours)
    if hi <= lo:
        return None
    low, low_at = lowest(values, lo, hi)
    edge = t - hours * HOUR
    gap = policy.rates.interpolate_gap_hours * HOUR
    if gap > 0 and lo > 0 and times[lo] != edge and t - times[lo - 1] <= gap:
        j = lo - 1
        at_edge = values[j] + (values[lo] - values[j]) * (edge - times[j]) / (times[lo]
                                                                                - times[j])
        if at_edge < low:
            return Window(lo, hi, at_edge, j, True)
    return Window(lo, hi, low, low_at, False)


def limit_24h(tier: TierLimits, t: float, episode_start: float | None) -> float:
    """European 2014: a window that starts inside the episode's first 24 h is held to the
    first-day limit (10), a later one to the daily limit (8)."""
    if (tier.first_day_rise_24h is not None and episode_start is not None
            and t - 24 * HOUR < episode_start + 24 * HOUR):
        return tier.first_day_rise_24h
    return tier.rise_24h


def sparing_onset(low_at: float, onsets: Sequence[float], acute_hours: float) -> float | None:
    """European 2014: no correction limit in acute hyponatremia (documented onset < 48 h).
    A rise is judged from its window's lowest value, collected at `low_at` (epoch seconds):
    the onset (sorted epoch seconds) less than `acute_hours` from it, either side, spares
    the rise (the default onset, the time of marking, comes after the low value that
    prompted the mark); None when there is none. A rise from a value collected later is a
    rise in hyponatremia that has become chronic."""
    span = acute_hours * HOUR
    k = bisect_right(onsets, low_at - span)
    return onsets[k] if k < len(onsets) and onsets[k] < low_at + span else None


@dataclass(frozen=True, slots=True)
class Bound:
    """One window's limit at a moment. `applies`: the rate rules hold a rise to it (not
    spared by an acute mark, and the window starts in hyponatremia)."""

    hours: float
    limit: float
    window: Window
    exempt: bool
    applies: bool

    @property
    def ceiling(self) -> float:
        """The highest value the window allows (mmol/L)."""
        return self.window.start + self.limit


def bounds_at(times: Sequence[float], values: Sequence[float], t: float,
              episode_start: float | None, onsets: Sequence[float], high_risk: bool,
              policy: Policy) -> list[Bound]:
    """The 24 h and 48 h bounds at `t` (epoch seconds) for a patient of this tier, whose
    current episode started at `episode_start`, under the acute marks' `onsets` (sorted);
    a window with no value in it has no bound."""
    tier = policy.tier_limits(high_risk)
    out = []
    for hours, limit in ((24.0, limit_24h(tier, t, episode_start)), (48.0, tier.rise_48h)):
        w = window_at(times, values, t, hours, policy)
        if w is None:
            continue
        exempt = bool(onsets) and sparing_onset(times[w.anchor], onsets,
                                                policy.episodes.acute_hours) is not None
        out.append(Bound(hours, limit, w, exempt,
                         not exempt and w.start <= policy.bands.hyponatremia_max))
    return out


def ceiling(bounds: Sequence[Bound]) -> Bound | None:
    """The bound that holds the value lowest: the one a rise would cross first (None when
    no bound applies: no limit)."""
    return min((b for b in bounds if b.applies), key=lambda b: b.ceiling, default=None)
