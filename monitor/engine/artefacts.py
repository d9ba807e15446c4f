"""Samples that do not count as they read: spikes the next sample reverses, and sodium that
a paired high glucose lowers. Pure functions over sorted columns, shared by the patient
ledger (what the rules count) and the patient chart (what it marks), so both say the same.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from monitor.engine.model import GLUCOSE_MG_DL_PER_MMOL_L
from monitor.engine.policy import Policy

SUSPECTED_ARTEFACT = "not confirmed by the next sample: suspected artefact"


def is_spike(times: Sequence[float], values: Sequence[float], j: int, policy: Policy) -> bool:
    """A sample that jumps by >= jump_mmol_l from the one before and that the next one,
    collected within confirm_hours, brings back to within return_mmol_l of it: a suspected
    artefact (a drip-arm sample, redrawn). A rise the next sample keeps, or one reversed
    only later, stays counted. Times in epoch seconds, sorted."""
    a = policy.artefacts
    if j <= 0 or j + 1 >= len(times):
        return False
    before, value, after = values[j - 1], values[j], values[j + 1]
    return (abs(value - before) >= a.jump_mmol_l
            and times[j + 1] - times[j] <= a.confirm_hours * 3600
            and abs(after - before) <= a.return_mmol_l)


def glucose_corrected(value: float, at: float, glucose_times: Sequence[float],
                      glucose_mmol_l: Sequence[float], policy: Policy) -> float | None:
    """The sodium corrected for the nearest glucose collected within `pair_minutes` when that
    is above `correct_above_mg_dl` (a high glucose draws water into the plasma and lowers
    the measured sodium); None when no such glucose pairs with it."""
    g = policy.glucose
    reach = g.pair_minutes * 60
    lo, hi = bisect_left(glucose_times, at - reach), bisect_right(glucose_times, at + reach)
    if lo >= hi:
        return None
    near = min(range(lo, hi), key=lambda j: (abs(glucose_times[j] - at), -glucose_times[j]))
    mg_dl = glucose_mmol_l[near] * GLUCOSE_MG_DL_PER_MMOL_L
    if mg_dl <= g.correct_above_mg_dl:
        return None
    return round(value + g.factor * (mg_dl - 100) / 100, 1)
