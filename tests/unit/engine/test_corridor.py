"""The corridor the chart draws is the rules' own: tier, first-day limit, acute marks."""

from __future__ import annotations

from datetime import timedelta

from monitor.engine.corridor import (
    NO_RECENT_VALUE,
    NOT_HYPONATREMIC,
    SPARED_ACUTE,
    PatientCorridor,
)
from monitor.engine.policy import built_in
from monitor.engine.rules import OVERCORRECTION_24H, PatientData
from monitor.engine.sampling import interval, next_due
from tests.unit.engine.builders import at, coded, findings, timed


def _corridor(points: list[tuple[float, float]], policy: str = "default",
              codes: frozenset[str] = frozenset(), acute: tuple[float, ...] = ()
              ) -> PatientCorridor:
    return PatientCorridor(PatientData(sodium=timed(points), diagnoses=coded(codes),
                                       acute_marks=tuple(at(h) for h in acute)),
                           built_in(policy))


def test_the_ceiling_is_the_window_low_plus_the_limit_until_the_low_leaves_the_window() -> None:
    c = _corridor([(0, 120), (12, 124)])
    left = c.allowance(at(13))
    assert left is not None
    assert (left.ceiling_mmol_l, left.latest_mmol_l, left.left_mmol_l) == (128, 124, 4)
    assert left.until == at(24) and not left.first_day and not left.high_risk
    assert [p.ceiling_mmol_l for p in c.along(at(0), at(3))] == [128, 128, 128, 128]


def test_eu_2014_holds_the_first_day_to_its_own_limit_as_the_rules_do() -> None:
    points = [(0, 120), (12, 129)]
    # 129 is +9 in the first day: within eu-2014's 10, so no alert, and the ceiling is 130.
    assert not [f for f in findings(timed(points), "eu-2014") if f.rule == OVERCORRECTION_24H]
    left = _corridor(points, "eu-2014").allowance(at(12))
    assert left is not None and left.first_day
    assert (left.ceiling_mmol_l, left.limit_mmol_l, left.until) == (130, 10, at(24))
    # A window starting after the episode's first day is held to 8.
    later = _corridor([(0, 120), (26, 125), (40, 127)], "eu-2014").allowance(at(50))
    assert later is not None and not later.first_day
    assert (later.ceiling_mmol_l, later.limit_mmol_l) == (133, 8)


def test_an_acute_mark_lifts_the_ceiling_where_the_rules_spare_the_rise() -> None:
    points = [(0, 118), (6, 127)]
    assert not [f for f in findings(timed(points), acute=[at(1)]) if f.rule == OVERCORRECTION_24H]
    c = _corridor(points, acute=(1,))
    assert c.allowance(at(6)) is None
    assert {p.ceiling_mmol_l for p in c.along(at(0), at(6))} == {None}
    assert _corridor(points).allowance(at(6)) is not None  # unmarked: held to 8


def test_a_risk_diagnosis_lowers_the_ceiling_and_sets_the_high_risk_goal() -> None:
    c = _corridor([(0, 120), (6, 122)], codes=frozenset({"K70.3"}))
    left = c.allowance(at(6))
    assert left is not None and left.high_risk and left.ceiling_mmol_l == 126
    glide = c.glide(at(6))
    assert glide is not None and glide.per_24h == (4, 6) and glide.from_at == at(0)
    assert _corridor([(0, 120)], "eu-2014").glide(at(1)) is None  # the source sets no goal


def test_the_projection_carries_the_rules_velocity_to_the_windows_horizon() -> None:
    proj = _corridor([(0, 120), (4, 122), (8, 124)]).projection()
    assert proj is not None
    assert proj.velocity_mmol_l_h == 0.5 and proj.to_at == at(24)
    assert proj.to_mmol_l == 132


def test_the_chart_draws_no_projection_the_rules_would_not_make() -> None:
    # Two values from a mild baseline within the analytic error: no dashed line either.
    assert _corridor([(0, 127), (6, 130)]).projection() is None
    assert _corridor([(0, 127), (3, 128.5), (6, 130)]).projection() is not None


def test_the_next_sodium_is_due_after_the_interval_the_overdue_watch_applies() -> None:
    policy = built_in("default")
    assert next_due(policy, at(0), 118, False) - at(0) == interval(policy, 118, False) \
        == timedelta(hours=policy.monitoring.severe_hours)
    assert next_due(policy, at(0), 130, True) == at(policy.monitoring.during_rate_alert_hours)


def test_the_corridor_says_why_no_limit_applies_and_which_tier_it_holds() -> None:
    assert _corridor([(0, 120), (12, 124)]).unlimited(at(13)) is None
    assert _corridor([(0, 120)]).unlimited(at(50)) == NO_RECENT_VALUE
    assert _corridor([(0, 118), (6, 127)], acute=(1,)).unlimited(at(6)) == SPARED_ACUTE
    assert _corridor([(0, 137), (6, 138)]).unlimited(at(6)) == NOT_HYPONATREMIC
    assert _corridor([(0, 120)], codes=frozenset({"K70.3"})).high_risk(at(1))
    assert not _corridor([(0, 120)]).high_risk(at(1))
    assert not _corridor([(0, 120)]).high_risk(at(-1))  # before any result
