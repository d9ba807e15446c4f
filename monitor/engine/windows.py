"""Rolling windows over a sorted series: lowest value, highest value, velocity.

Times are epoch seconds, values mmol/L. A window [t - W, t] includes both ends.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

HOUR = 3600.0


def window_bounds(times: Sequence[float], t: float, hours: float) -> tuple[int, int]:
    """Index range [lo, hi) of the results collected in [t - hours, t]."""
    return bisect_left(times, t - hours * HOUR), bisect_right(times, t)


def lowest(values: Sequence[float], lo: int, hi: int) -> tuple[float, int]:
    """Lowest value in [lo, hi) and the index of its latest occurrence.

    The latest occurrence is used so that a projection counts its 24 h from the most recent
    nadir: the conservative choice (more hours left in which the limit can be crossed).
    """
    best, where = values[lo], lo
    for i in range(lo + 1, hi):
        if values[i] <= best:
            best, where = values[i], i
    return best, where


def slope_per_hour(times: Sequence[float], values: Sequence[float], lo: int, hi: int) -> float:
    """Least-squares slope (mmol/L per hour) of the points in [lo, hi)."""
    n = hi - lo
    mean_t = sum(times[lo:hi]) / n
    mean_v = sum(values[lo:hi]) / n
    num = den = 0.0
    for i in range(lo, hi):
        dt = times[i] - mean_t
        num += dt * (values[i] - mean_v)
        den += dt * dt
    return 0.0 if den == 0 else num / den * HOUR
