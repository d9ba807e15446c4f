"""The allowed corridor of a patient's sodium, for the chart: the ceiling at any moment, the
allowance left now, the projection and the day's goal (glide slope).

Every number is the rules' own: the bounds of monitor.engine.limits with the tier, episode
and acute marks the rules see (monitor.engine.rules.context), so a first-day limit or an
acute mark moves the corridor exactly as it moves the alerts. Pure; `now` is a parameter.
Values mmol/L, times aware UTC datetimes.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.engine.limits import Bound, bounds_at, ceiling
from monitor.engine.policy import Policy
from monitor.engine.rules import (
    Columns,
    Context,
    PatientData,
    context,
    episode_start,
    projection_evidenced,
    risk_factors_at,
    velocity_from,
)
from monitor.engine.windows import HOUR, lowest, window_bounds

# Why no limit applies at a moment (PatientCorridor.unlimited), for the chart to say.
NO_RECENT_VALUE = "no sodium in the windows"  # no value in the last 24 h or 48 h
SPARED_ACUTE = "spared by an acute mark"  # every window's low lies near a documented onset
NOT_HYPONATREMIC = "not in hyponatremia"  # the windows start above the hyponatremia band


@dataclass(frozen=True, slots=True)
class CorridorPoint:
    at: datetime
    low_mmol_l: float  # where the binding window's rise is measured from
    # The highest value the rules allow at `at`; None where no limit applies (a rise
    # spared by an acute mark, or from a value above the hyponatremia band).
    ceiling_mmol_l: float | None
    high_risk: bool


@dataclass(frozen=True, slots=True)
class Allowance:
    """The ceiling now and how much of it is left above the latest value."""

    ceiling_mmol_l: float
    latest_mmol_l: float
    limit_mmol_l: float
    window_hours: float
    from_mmol_l: float
    # When this ceiling stops holding: its window's starting value leaves the window (the
    # ceiling then rises) or the first-day limit ends (it falls); None while it moves with
    # time (an interpolated start).
    until: datetime | None
    first_day: bool
    high_risk: bool

    @property
    def left_mmol_l(self) -> float:
        return self.ceiling_mmol_l - self.latest_mmol_l


@dataclass(frozen=True, slots=True)
class Projection:
    """Where the rise is heading: from the latest value at the rules' velocity until 24 h
    after the window's nadir (the horizon PROJECTED_OVERCORRECTION projects to)."""

    from_at: datetime
    from_mmol_l: float
    to_at: datetime
    to_mmol_l: float
    velocity_mmol_l_h: float


@dataclass(frozen=True, slots=True)
class Glide:
    """The day's goal drawn from the current episode's lowest value (policy target_24h)."""

    from_at: datetime
    from_mmol_l: float
    per_24h: tuple[float, float]
    high_risk: bool


class PatientCorridor:
    """One patient's series prepared once, asked at many moments."""

    def __init__(self, data: PatientData, policy: Policy) -> None:
        self.policy = policy
        self.ctx: Context = context(Columns.of(data.sodium), Columns.of(data.potassium),
                                    data.diagnoses, data.acute_marks, policy)

    def _bounds(self, t: float) -> tuple[int, list[Bound], bool] | None:
        """The latest result at or before `t`, the bounds at `t`, and the risk tier."""
        i = bisect_right(self.ctx.times, t) - 1
        if i < 0:
            return None
        high = bool(risk_factors_at(i, self.ctx))
        bounds = bounds_at(self.ctx.times, self.ctx.values, t, episode_start(i, self.ctx),
                           self.ctx.onsets, high, self.policy)
        return i, bounds, high

    def along(self, start: datetime, end: datetime, step: timedelta = timedelta(hours=1)
              ) -> list[CorridorPoint]:
        """The corridor from `start` to `end`, every `step`, where a 24 h window holds a
        value (before the first one, or a day after the last, there is none)."""
        out = []
        t = start
        while t <= end:
            found = self._bounds(t.timestamp())
            if found is not None and any(b.hours == 24.0 for b in found[1]):
                _, bounds, high = found
                held = ceiling(bounds)
                day = next(b for b in bounds if b.hours == 24.0)
                out.append(CorridorPoint(t, (held or day).window.start,
                                         None if held is None else held.ceiling, high))
            t += step
        return out

    def allowance(self, now: datetime) -> Allowance | None:
        """The ceiling at `now`; None when no limit applies or no value lies in a window."""
        found = self._bounds(now.timestamp())
        if found is None:
            return None
        i, bounds, high = found
        held = ceiling(bounds)
        if held is None:
            return None
        w, tier = held.window, self.policy.tier_limits(high)
        first_day = held.hours == 24.0 and tier.first_day_rise_24h is not None and \
            held.limit == tier.first_day_rise_24h != tier.rise_24h
        ends = [] if w.interpolated else [self.ctx.times[w.anchor] + held.hours * HOUR]
        began = episode_start(i, self.ctx)
        if first_day and began is not None:
            ends.append(began + 48 * HOUR)  # the first-day limit holds windows that start
        return Allowance(held.ceiling, self.ctx.values[i], held.limit, held.hours, w.start,
                         _at(min(ends)) if ends else None, first_day, high)

    def unlimited(self, now: datetime) -> str | None:
        """Why no limit applies at `now` (NO_RECENT_VALUE, SPARED_ACUTE or NOT_HYPONATREMIC);
        None when one does."""
        found = self._bounds(now.timestamp())
        if found is None or not found[1]:
            return NO_RECENT_VALUE
        bounds = found[1]
        if ceiling(bounds) is not None:
            return None
        return SPARED_ACUTE if any(b.exempt for b in bounds) else NOT_HYPONATREMIC

    def high_risk(self, now: datetime) -> bool:
        """The risk tier the rules give the latest result at `now` (False before any)."""
        i = bisect_right(self.ctx.times, now.timestamp()) - 1
        return i >= 0 and bool(risk_factors_at(i, self.ctx))

    def projection(self) -> Projection | None:
        """The rules' velocity at the latest value, carried to its window's 24 h horizon."""
        if not self.ctx.times:
            return None
        i = len(self.ctx.times) - 1
        t, v = self.ctx.times[i], self.ctx.values[i]
        lo, hi = window_bounds(self.ctx.times, t, 24.0)
        _, nadir = lowest(self.ctx.values, lo, hi)
        velocity = velocity_from(i, nadir, self.ctx)
        horizon = self.ctx.times[nadir] + 24 * HOUR
        if velocity is None or horizon <= t:
            return None
        if not projection_evidenced(i, nadir, v - self.ctx.values[nadir], self.ctx):
            return None
        return Projection(_at(t), v, _at(horizon), v + velocity * (horizon - t) / HOUR,
                          velocity)

    def glide(self, now: datetime) -> Glide | None:
        """The goal line from the lowest value of the episode open at `now`, when the
        policy sets a goal for the patient's tier."""
        i = bisect_right(self.ctx.times, now.timestamp()) - 1
        if i < 0 or self.ctx.owner[i] is None:
            return None
        high = bool(risk_factors_at(i, self.ctx))
        target = self.policy.tier_limits(high).target_24h
        if target is None:
            return None
        episode = self.ctx.episodes[self.ctx.owner[i] or 0]
        low, at = lowest(self.ctx.values, episode.first, i + 1)
        return Glide(_at(self.ctx.times[at]), low, target, high)

    def in_episode(self, now: datetime) -> bool:
        """Whether the latest result at `now` lies in an open episode (sampling is watched)."""
        i = bisect_right(self.ctx.times, now.timestamp()) - 1
        k = self.ctx.owner[i] if i >= 0 else None
        return k is not None and self.ctx.episodes[k].end is None


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)
