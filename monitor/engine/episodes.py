"""Hyponatremia episodes over a patient's counted sodium series.

An episode starts at a sodium <= hyponatremia_max (135). It ends at the first run of
consecutive results >= normal_min (136) that spans at least normal_span_hours (12 h): the
end is the time of the result that completes the run. It also ends gap_hours (72 h) after
the last result when no sodium follows. These are project definitions (docs/clinical-rules.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.engine.policy import Policy

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Episode:
    start: float  # epoch seconds of the first result <= hyponatremia_max
    end: float | None  # epoch seconds; None while open
    first: int  # index of the first result in the episode
    last: int  # index of the last result in the episode (inclusive)


def find_episodes(times: Sequence[float], values: Sequence[float], policy: Policy) -> list[Episode]:
    """Episodes over a series sorted by collection time (epoch seconds, mmol/L)."""
    low_max = policy.bands.hyponatremia_max
    normal_min = policy.episodes.normal_min
    span = policy.episodes.normal_span_hours * HOUR
    gap = policy.episodes.gap_hours * HOUR
    episodes: list[Episode] = []
    start_index: int | None = None
    normal_run_from: float | None = None
    for i, (t, v) in enumerate(zip(times, values, strict=True)):
        if start_index is not None and t - times[i - 1] > gap:
            episodes.append(Episode(times[start_index], times[i - 1] + gap, start_index, i - 1))
            start_index = None
        if start_index is None:
            if v <= low_max:
                start_index, normal_run_from = i, None
            continue
        if v >= normal_min:
            normal_run_from = t if normal_run_from is None else normal_run_from
            if t - normal_run_from >= span:
                episodes.append(Episode(times[start_index], t, start_index, i))
                start_index = None
        else:
            normal_run_from = None
    if start_index is not None:
        episodes.append(Episode(times[start_index], None, start_index, len(times) - 1))
    return episodes


def episode_index(episodes: Sequence[Episode], n: int) -> list[int | None]:
    """For each of n results, the index of the episode containing it (or None)."""
    owner: list[int | None] = [None] * n
    for k, episode in enumerate(episodes):
        for i in range(episode.first, episode.last + 1):
            owner[i] = k
    return owner
