"""Episode boundaries, eu-2014's first-day limit, and acute marks."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from monitor.engine.episodes import Episode, episode_index, find_episodes
from monitor.engine.model import Finding
from monitor.engine.policy import built_in
from monitor.engine.rules import (
    FALLING_SODIUM,
    OVERCORRECTION_24H,
    OVERCORRECTION_48H,
    PROJECTED_OVERCORRECTION,
    RATE_RULES,
    SEVERE_HYPONATREMIA,
)
from tests.unit.engine.builders import at, findings, fired, timed

H = 3600.0
SECOND = 1 / 3600


def episodes(points: Sequence[tuple[float, float]]) -> list[Episode]:
    return find_episodes([h * H for h, _ in points], [v for _, v in points], built_in("default"))


def spans(points: Sequence[tuple[float, float]]) -> list[tuple[float, float | None, int, int]]:
    """Each episode as (start h, end h or None, first index, last index)."""
    return [(e.start / H, None if e.end is None else e.end / H, e.first, e.last)
            for e in episodes(points)]


def test_no_episode_without_a_value_at_or_below_135() -> None:
    assert episodes([(0, 136), (6, 140), (12, 145)]) == []


def test_an_episode_starts_at_135_and_stays_open() -> None:
    assert spans([(0, 137), (6, 135), (12, 130)]) == [(6, None, 1, 2)]


def test_a_gap_of_more_than_72h_ends_the_episode() -> None:
    assert spans([(0, 125), (72 + SECOND, 126)]) == [(0, 72, 0, 0), (72 + SECOND, None, 1, 1)]


def test_a_gap_of_exactly_72h_does_not_end_it() -> None:
    assert spans([(0, 125), (72, 126)]) == [(0, None, 0, 1)]


def test_after_a_gap_a_normal_value_starts_no_new_episode() -> None:
    assert spans([(0, 125), (80, 138)]) == [(0, 72, 0, 0)]


def test_two_normal_results_less_than_12h_apart_do_not_end_it() -> None:
    assert spans([(0, 125), (10, 136), (21.9, 137)]) == [(0, None, 0, 2)]


def test_two_normal_results_12h_apart_end_it_at_the_second() -> None:
    assert spans([(0, 125), (10, 136), (22, 137)]) == [(0, 22, 0, 2)]


def test_a_run_of_normal_results_spanning_12h_ends_it() -> None:
    assert spans([(0, 125), (10, 136), (16, 137), (22, 138)]) == [(0, 22, 0, 3)]


@pytest.mark.parametrize("between", [135.5, 134])
def test_a_value_below_136_restarts_the_normal_run(between: float) -> None:
    assert spans([(0, 125), (10, 136), (16, between), (22, 137), (30, 138)]) == [
        (0, None, 0, 4)]


def test_a_new_episode_starts_after_the_end() -> None:
    points = [(0, 125), (10, 136), (22, 137), (30, 139), (40, 134)]
    assert spans(points) == [(0, 22, 0, 2), (40, None, 4, 4)]
    assert episode_index(episodes(points), len(points)) == [0, 0, 0, None, 1]


# --- eu-2014: 10 mmol/L in the first 24 h of an episode, 8 after ----------------------------

@pytest.mark.parametrize(("end", "fires"), [(130, False), (130.5, True)])
def test_eu_2014_allows_10_in_the_first_24h(end: float, fires: bool) -> None:
    found = findings(timed([(0, 120), (24, end)]), "eu-2014")
    assert fired(found, OVERCORRECTION_24H) == (["r2"] if fires else [])
    if fires:
        assert only_limits(found) == [10]


@pytest.mark.parametrize(("end", "fires"), [(129, False), (129.5, True)])
def test_eu_2014_allows_8_after_the_first_24h(end: float, fires: bool) -> None:
    # Episode starts at 0 h; the window of the result at 50 h starts at 26 h, after the
    # first day, and rises from 121 there.
    found = findings(timed([(0, 120), (26, 121), (50, end)]), "eu-2014")
    assert fired(found, OVERCORRECTION_24H) == (["r3"] if fires else [])


def test_eu_2014_a_window_starting_inside_the_first_day_keeps_its_limit() -> None:
    # V2-10: the window [8 h, 32 h] starts inside the episode's first day, so +9 from 119
    # is held to the first-day limit 10, not to 8.
    found = findings(timed([(0, 116), (8, 119), (22, 126), (32, 128)]), "eu-2014")
    assert fired(found, OVERCORRECTION_24H) == []
    assert [f.limit_mmol_l for f in found if f.rule == OVERCORRECTION_24H] == []


def test_eu_2014_first_day_counts_from_the_episode_start_not_the_nadir() -> None:
    # The episode starts at 0 h with 134, so at 50 h (window from 26 h) the limit is 8 even
    # though the window's lowest value (120 at 30 h) is less than 24 h old.
    found = findings(timed([(0, 134), (30, 120), (50, 128.5)]), "eu-2014")
    assert [f.limit_mmol_l for f in found if f.rule == OVERCORRECTION_24H] == [8]


def test_eu_2014_a_new_episode_has_a_new_first_day() -> None:
    # First episode ends at 22 h; the second starts at 100 h.
    points = [(0, 128), (10, 136), (22, 137), (100, 120), (110, 129.5)]
    found = findings(timed(points), "eu-2014")
    assert fired(found, OVERCORRECTION_24H) == []


def test_the_other_profiles_have_no_first_day_limit() -> None:
    found = findings(timed([(0, 120), (24, 128.5)]), "default")
    assert only_limits(found) == [8]


def only_limits(found: list[Finding]) -> list[float | None]:
    return [f.limit_mmol_l for f in found if f.rule == OVERCORRECTION_24H]


# --- acute marks (onset < 48 h documented, Spasovski 2014) ----------------------------------

def test_an_acute_mark_exempts_the_rate_rules_of_rises_from_values_near_its_onset() -> None:
    points = [(0, 112), (2, 114), (4, 116), (24, 121), (48, 130)]
    plain = findings(timed(points))
    assert {f.rule for f in plain} >= {OVERCORRECTION_24H, OVERCORRECTION_48H,
                                       SEVERE_HYPONATREMIA}
    # The projection holds only until the value 24 h after its nadir arrives.
    assert PROJECTED_OVERCORRECTION in {f.rule for f in findings(timed(points[:3]))}
    assert not {f.rule for f in findings(timed(points[:3]), acute=[at(1)])} & RATE_RULES
    # At 48 h the 24 h window starts at 121 (24 h after the onset), the 48 h one at 112.
    acute = findings(timed(points), acute=[at(1)])
    assert not {f.rule for f in acute} & RATE_RULES
    assert fired(acute, SEVERE_HYPONATREMIA) == fired(plain, SEVERE_HYPONATREMIA)


def test_an_acute_mark_expires_a_rise_from_a_value_48_h_after_the_onset_alerts() -> None:
    # One open episode: 118 at the onset, then 120 at 48 h and +9 by 60 h. The hyponatremia
    # has lasted 48 h when 120 is drawn: chronic, so the rise from it is held to the limit.
    points = [(0, 118), (24, 121), (48, 120), (60, 129)]
    assert fired(findings(timed(points), acute=[at(0)]), OVERCORRECTION_24H) == ["r4"]
    just_inside = at(0.5)  # 120 drawn 47.5 h after the onset: still acute
    assert fired(findings(timed(points), acute=[just_inside]), OVERCORRECTION_24H) == []


def test_an_onset_recorded_after_the_low_value_covers_it_for_48_h_before() -> None:
    # Marked (onset defaulting to the time of marking) after the 118 that prompted it.
    points = [(0, 118), (20, 127)]
    assert fired(findings(timed(points)), OVERCORRECTION_24H) == ["r2"]
    assert fired(findings(timed(points), acute=[at(10)]), OVERCORRECTION_24H) == []
    assert fired(findings(timed(points), acute=[at(47)]), OVERCORRECTION_24H) == []
    assert fired(findings(timed(points), acute=[at(48)]), OVERCORRECTION_24H) == ["r2"]


def test_an_acute_mark_does_not_suppress_falling_sodium() -> None:
    found = findings(timed([(0, 130), (6, 124)]), acute=[at(3)])
    assert fired(found, FALLING_SODIUM) == ["r2"]


def test_an_acute_mark_does_not_reach_an_episode_days_from_its_onset() -> None:
    # Episode 1: 0-22 h. Episode 2 starts at 100 h.
    points = [(0, 120), (10, 136), (22, 137), (100, 120), (124, 128.5)]
    found = findings(timed(points), acute=[at(5)])
    assert fired(found, OVERCORRECTION_24H) == ["r5"]
    marked_later = findings(timed(points), acute=[at(110)])
    assert fired(marked_later, OVERCORRECTION_24H) == ["r2", "r3"]


def test_a_rise_from_an_acute_value_stays_exempt_after_the_episode_ended() -> None:
    # 118 (acute) -> 136 -> 137 closes the episode at 14 h; 138 at 20 h is outside any
    # episode, but its 24 h window starts at the acute nadir.
    points = [(0, 118), (2, 136), (14, 137), (20, 138)]
    acute = findings(timed(points), acute=[at(1)])
    assert not {f.rule for f in acute} & RATE_RULES
    assert {f.rule for f in findings(timed(points))} & RATE_RULES
