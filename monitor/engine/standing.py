"""Where a patient stands at their latest counted sodium, as a ward list shows it: the
risk factors the rules apply there, the signed change over the 24 h before it, and the rise
from the 24 h low as the 24 h rule measures it.

Pure: read from the same context the rules build (monitor.engine.rules.context), so the
census never names a tier or a rise the alerts would not. Values mmol/L.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from monitor.engine.limits import window_at
from monitor.engine.rules import Context, risk_factors_at
from monitor.engine.windows import window_bounds


@dataclass(frozen=True, slots=True)
class Standing:
    risk_factors: tuple[str, ...]  # any: the high-risk tier
    # The latest value minus the earliest one collected in the 24 h before it; None when
    # the latest is the only value of those 24 h.
    change_24h_mmol_l: float | None
    # The latest value minus the 24 h window's start (its lowest value, or the value
    # interpolated at its edge): the number OVERCORRECTION_24H holds to its limit.
    rise_24h_mmol_l: float | None

    @property
    def high_risk(self) -> bool:
        return bool(self.risk_factors)


def latest_standing(ctx: Context) -> Standing:
    """The patient at their latest counted sodium; without one, the diagnoses alone."""
    if not ctx.times:
        return Standing(tuple(sorted({h.factor for h in ctx.held if math.isinf(h.end)})),
                        None, None)
    i = len(ctx.times) - 1
    t, v = ctx.times[i], ctx.values[i]
    lo, hi = window_bounds(ctx.times, t, 24.0)
    change = v - ctx.values[lo] if hi - lo > 1 else None
    w = window_at(ctx.times, ctx.values, t, 24.0, ctx.policy)
    return Standing(risk_factors_at(i, ctx), change, None if w is None else v - w.start)
