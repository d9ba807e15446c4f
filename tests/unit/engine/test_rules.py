"""Each rule at its boundaries, default policy unless stated (limits 8/16, high 6/12)."""

from __future__ import annotations

import pytest

from monitor.engine.model import Method
from monitor.engine.policy import built_in
from monitor.engine.rules import (
    FALLING_SODIUM,
    HYPERNATREMIA,
    OVERCORRECTION_24H,
    OVERCORRECTION_48H,
    PROJECTED_OVERCORRECTION,
    SEVERE_HYPONATREMIA,
    PatientData,
    evaluate,
)
from tests.unit.engine.builders import T0, at, findings, fired, na, only, rules_at, series, timed

SECOND = 1 / 3600
# Interpolation off: what the window alone sees (the 48 h tests below would otherwise also
# see the interpolated 24 h rise).
NO_INTERPOLATION = built_in("default").model_copy(update={"rates": built_in(
    "default").rates.model_copy(update={"interpolate_gap_hours": 0})})


# --- OVERCORRECTION_24H ---------------------------------------------------------------------

@pytest.mark.parametrize(("end", "fires"), [(128, False), (128.5, True)])
def test_24h_rise_of_exactly_the_limit_does_not_fire(end: float, fires: bool) -> None:
    found = findings(timed([(0, 120), (24, end)]))
    assert fired(found, OVERCORRECTION_24H) == (["r2"] if fires else [])


@pytest.mark.parametrize(("end", "fires"), [(126, False), (126.5, True)])
def test_24h_limit_is_6_for_a_high_risk_patient(end: float, fires: bool) -> None:
    found = findings(timed([(0, 120), (24, end)]), codes=["K70.3"])
    assert fired(found, OVERCORRECTION_24H) == (["r2"] if fires else [])


def test_24h_finding_carries_rise_window_limit_and_lowest_value() -> None:
    f = only(findings(timed([(0, 120), (12, 124), (24, 128.5)])), OVERCORRECTION_24H)
    assert (f.result_key, f.rise_mmol_l, f.window_hours, f.limit_mmol_l) == ("r3", 8.5, 24, 8)
    assert f.extra["low_mmol_l"] == 120
    assert f.collected_at == at(24)
    assert f.risk_tier == "standard" and f.risk_factors == ()


def test_a_value_exactly_24h_before_is_in_the_window() -> None:
    assert fired(findings(timed([(0, 120), (24, 128.5)])), OVERCORRECTION_24H) == ["r2"]


def test_a_value_just_over_24h_before_is_not_in_the_window() -> None:
    found = findings(timed([(0, 120), (24 + SECOND, 128.5)]), NO_INTERPOLATION)
    assert fired(found, OVERCORRECTION_24H) == []


def test_a_value_just_over_24h_before_starts_the_window_by_interpolation() -> None:
    # V2-01: daily draws drift later; the value at t - 24 h is interpolated (121.1).
    found = findings(timed([(0, 121), (24 + 20 / 60, 130)]))
    f = only(found, OVERCORRECTION_24H)
    assert f.rise_mmol_l == pytest.approx(130 - (121 + 9 * 20 / 1460))
    assert f.extra["from_mmol_l"] == 121 and f.extra["interpolated"] == 1.0
    assert f.extra["span_hours"] == pytest.approx(24 + 20 / 60)


def test_interpolation_uses_the_sample_after_the_window_start() -> None:
    # V2-02: 119 at 0 h, 131 at 28 h: 120.7 at 4 h, +10.3 in 24 h.
    f = only(findings(timed([(0, 119), (28, 131)])), OVERCORRECTION_24H)
    assert f.extra["low_mmol_l"] == pytest.approx(120.71, abs=0.01)
    assert f.severity == "critical"


def test_no_interpolation_beyond_the_gap() -> None:
    # The earlier sample lies 73 h before: beyond interpolate_gap_hours (72).
    assert fired(findings(timed([(0, 110), (73, 125)])), OVERCORRECTION_24H) == []


def test_interpolation_only_lowers_the_start() -> None:
    # The lowest value in the window (122 at 10 h) is lower than the interpolated one.
    f = only(findings(timed([(0, 125), (10, 122), (30, 131)])), OVERCORRECTION_24H)
    assert f.extra["low_mmol_l"] == 122 and f.extra["interpolated"] == 0.0


@pytest.mark.parametrize(("low", "fires"), [(135, True), (136, False)])
def test_rise_counts_only_from_a_lowest_value_at_or_below_135(low: float, fires: bool) -> None:
    found = findings(timed([(0, low), (24, low + 8.5)]))
    assert fired(found, OVERCORRECTION_24H) == (["r2"] if fires else [])


@pytest.mark.parametrize(("low", "severity"), [(125, "critical"), (126, "warning")])
def test_rise_from_125_or_lower_is_critical(low: float, severity: str) -> None:
    found = findings(timed([(0, low), (24, low + 9)]))
    assert only(found, OVERCORRECTION_24H).severity == severity


def test_the_lowest_value_of_the_window_is_used_not_the_first() -> None:
    found = findings(timed([(0, 126), (6, 124), (12, 130), (18, 132.5)]))
    f = only(found, OVERCORRECTION_24H)
    assert (f.result_key, f.rise_mmol_l, f.severity) == ("r4", 8.5, "critical")


# --- OVERCORRECTION_48H ---------------------------------------------------------------------

@pytest.mark.parametrize(("end", "fires"), [(136, False), (136.5, True)])
def test_48h_rise_of_exactly_16_does_not_fire(end: float, fires: bool) -> None:
    # No result in between, so no 24 h window sees a rise.
    found = findings(timed([(0, 120), (48, end)]), NO_INTERPOLATION)
    assert fired(found, OVERCORRECTION_24H) == []
    assert fired(found, OVERCORRECTION_48H) == (["r2"] if fires else [])


@pytest.mark.parametrize(("end", "fires"), [(132, False), (132.5, True)])
def test_48h_limit_is_12_for_a_high_risk_patient(end: float, fires: bool) -> None:
    found = findings(timed([(0, 120), (48, end)]), codes=["F10.2"])
    assert fired(found, OVERCORRECTION_48H) == (["r2"] if fires else [])


def test_48h_window_ends_are_inclusive() -> None:
    assert fired(findings(timed([(0, 120), (48, 136.5)])), OVERCORRECTION_48H) == ["r2"]
    late = findings(timed([(0, 120), (48 + SECOND, 136.5)]), NO_INTERPOLATION)
    assert fired(late, OVERCORRECTION_48H) == []


@pytest.mark.parametrize(("low", "severity"), [(125, "critical"), (126, "warning")])
def test_48h_severity_follows_the_window_lowest(low: float, severity: str) -> None:
    found = findings(timed([(0, low), (48, low + 17)]))
    assert only(found, OVERCORRECTION_48H).severity == severity


def test_48h_needs_a_lowest_at_or_below_135() -> None:
    assert fired(findings(timed([(0, 136), (48, 153)])), OVERCORRECTION_48H) == []
    assert fired(findings(timed([(0, 135), (48, 151.5)])), OVERCORRECTION_48H) == ["r2"]


# --- PROJECTED_OVERCORRECTION ---------------------------------------------------------------

def test_projection_fires_on_a_steady_rise_below_the_limit() -> None:
    found = findings(timed([(0, 120), (2, 122), (4, 124)]))
    f = only(found, PROJECTED_OVERCORRECTION)
    assert f.result_key == "r3" and f.severity == "warning"
    assert f.rise_mmol_l == 4 and f.limit_mmol_l == 8
    assert f.extra["velocity_mmol_l_h"] == pytest.approx(1.0)
    # 4 mmol/L so far + 1 mmol/L/h x 20 h left until 24 h after the 120.
    assert f.extra["projected_rise_mmol_l"] == pytest.approx(24.0)


@pytest.mark.parametrize(("hours", "fires"), [(2, True), (2 - 60 * SECOND, False)])
def test_projection_needs_two_values_spanning_2h(hours: float, fires: bool) -> None:
    found = findings(timed([(0, 120), (hours, 124)]))
    assert fired(found, PROJECTED_OVERCORRECTION) == (["r2"] if fires else [])


def test_projection_needs_two_values_within_the_12h_lookback() -> None:
    # Rise 4 from 13 h earlier, but only one value in [t - 12 h, t].
    assert fired(findings(timed([(0, 120), (13, 124)])), PROJECTED_OVERCORRECTION) == []
    # A second value inside the look-back gives a velocity (1 mmol/L/h, 11 h left).
    found = findings(timed([(0, 120), (11, 122), (13, 124)]))
    assert fired(found, PROJECTED_OVERCORRECTION) == ["r3"]


def test_a_two_point_projection_from_a_mild_baseline_is_noise() -> None:
    # 127 -> 131 in 7.7 h "projects" about 12.5 mmol/L: the rise is within two results'
    # analytic error, so nothing is projected until a third value bears the slope out.
    assert fired(findings(timed([(0, 127), (7.7, 131)])), PROJECTED_OVERCORRECTION) == []
    found = findings(timed([(0, 127), (4, 129), (7.7, 131)]))
    assert fired(found, PROJECTED_OVERCORRECTION) == ["r3"]


@pytest.mark.parametrize(("end", "fires"), [(131, False), (131.5, True)])
def test_two_points_project_a_rise_beyond_the_analytic_error(end: float, fires: bool) -> None:
    found = findings(timed([(0, 127), (6, end)]))
    assert fired(found, PROJECTED_OVERCORRECTION) == (["r2"] if fires else [])


def test_two_points_project_from_a_critical_baseline() -> None:
    # The shared contract's MRN100001: 114 -> 118 in 6 h is a critical-grade rise.
    assert fired(findings(timed([(0, 114), (6, 118)])), PROJECTED_OVERCORRECTION) == ["r2"]


def test_the_evidence_for_a_projection_is_a_policy_parameter() -> None:
    default = built_in("default")
    looser = default.model_copy(update={"rates": default.rates.model_copy(
        update={"projection_min_points": 2})})
    assert fired(findings(timed([(0, 127), (7.7, 131)]), looser),
                 PROJECTED_OVERCORRECTION) == ["r2"]
    stricter = default.model_copy(update={"rates": default.rates.model_copy(
        update={"projection_min_rise_mmol_l": 5})})
    assert fired(findings(timed([(0, 127), (6, 131.5)]), stricter),
                 PROJECTED_OVERCORRECTION) == []


def test_projection_value_exactly_12h_before_is_in_the_lookback() -> None:
    found = findings(timed([(0, 120), (12, 125)]))
    f = only(found, PROJECTED_OVERCORRECTION)
    assert f.extra["velocity_mmol_l_h"] == pytest.approx(5 / 12, abs=1e-3)
    assert fired(findings(timed([(0, 120), (12 + SECOND, 125)])), PROJECTED_OVERCORRECTION) == []


@pytest.mark.parametrize(("end", "fires"), [(123.9, False), (124, True)])
def test_projection_needs_a_rise_of_at_least_half_the_limit(end: float, fires: bool) -> None:
    found = findings(timed([(0, 120), (2, end)]))
    assert fired(found, PROJECTED_OVERCORRECTION) == (["r2"] if fires else [])


def test_projection_needs_a_positive_velocity() -> None:
    # Rise 5 over 24 h, but the last 12 h fall from 127 to 125.
    found = findings(timed([(0, 120), (14, 127), (16, 125)]))
    assert PROJECTED_OVERCORRECTION not in rules_at(found, "r3")


def test_projection_needs_the_projected_rise_above_the_limit() -> None:
    # 0.01 mmol/L/h for the 4 h left: projected 4.04, not above 8.
    found = findings(timed([(0, 120), (10, 123.9), (20, 124)]))
    assert fired(found, PROJECTED_OVERCORRECTION) == []


def test_projection_is_not_reported_where_24h_overcorrection_fires() -> None:
    found = findings(timed([(0, 120), (2, 124), (4, 128.5)]))
    assert fired(found, OVERCORRECTION_24H) == ["r3"]
    assert fired(found, PROJECTED_OVERCORRECTION) == ["r2"]


def test_projection_counts_24h_from_the_latest_occurrence_of_the_lowest_value() -> None:
    # The 120 repeats at 10 h: 22 h left (not 12 h); the velocity counts from that nadir
    # on (2 mmol/L/h), so 4 + 2 x 22 = 48 > 8.
    found = findings(timed([(0, 120), (10, 120), (12, 124)]))
    f = only(found, PROJECTED_OVERCORRECTION)
    assert f.extra["projected_rise_mmol_l"] == pytest.approx(48.0)


def test_projection_velocity_ignores_the_fall_before_the_nadir() -> None:
    # 130 -> 120 -> 124: the fall before 120 would flatten the slope (0.14 /h); from the
    # nadir on sodium rises 2 /h.
    f = only(findings(timed([(0, 130), (8, 120), (10, 124)])), PROJECTED_OVERCORRECTION)
    assert f.extra["velocity_mmol_l_h"] == pytest.approx(2.0)


def test_projection_says_when_the_limit_is_reached_and_when_to_recheck() -> None:
    f = only(findings(timed([(0, 120), (4, 124)])), PROJECTED_OVERCORRECTION)
    # 4 mmol/L left at 1 /h: limit at 8 h; recheck within the rate-alert interval (4 h).
    assert f.extra["limit_at"] == at(8).timestamp()
    assert f.extra["recheck_by"] == at(8).timestamp()


def test_projection_needs_a_lowest_at_or_below_135() -> None:
    assert fired(findings(timed([(0, 136), (2, 140)])), PROJECTED_OVERCORRECTION) == []


# --- SEVERE_HYPONATREMIA --------------------------------------------------------------------

@pytest.mark.parametrize(("value", "fires"), [(119.9, True), (120, False)])
def test_severe_below_120_by_default(value: float, fires: bool) -> None:
    found = findings([na(0, value)])
    assert fired(found, SEVERE_HYPONATREMIA) == (["na@0"] if fires else [])
    if fires:
        assert only(found, SEVERE_HYPONATREMIA).severity == "critical"


@pytest.mark.parametrize("policy", ["us-2013", "eu-2014", "salsa-2021"])
@pytest.mark.parametrize(("value", "fires"), [(124.9, True), (125, False)])
def test_severe_below_125_in_the_guideline_profiles(policy: str, value: float,
                                                    fires: bool) -> None:
    found = findings([na(0, value)], policy)
    assert fired(found, SEVERE_HYPONATREMIA) == (["na@0"] if fires else [])


# --- FALLING_SODIUM -------------------------------------------------------------------------

@pytest.mark.parametrize(("end", "fires"), [(129, True), (129.1, False)])
def test_falling_by_6_fires_by_5_9_does_not(end: float, fires: bool) -> None:
    found = findings(timed([(0, 135), (12, end)]))
    assert fired(found, FALLING_SODIUM) == (["r2"] if fires else [])
    if fires:
        f = only(found, FALLING_SODIUM)
        assert f.severity == "warning" and f.rise_mmol_l == -6


def test_falling_needs_the_value_at_or_below_135() -> None:
    assert fired(findings(timed([(0, 142), (12, 136)])), FALLING_SODIUM) == []
    assert fired(findings(timed([(0, 141), (12, 135)])), FALLING_SODIUM) == ["r2"]


def test_falling_compares_with_the_highest_of_the_preceding_24h_inclusive() -> None:
    assert fired(findings(timed([(0, 136), (24, 130)])), FALLING_SODIUM) == ["r2"]
    assert fired(findings(timed([(0, 136), (24 + SECOND, 130)])), FALLING_SODIUM) == []


def test_falling_uses_the_highest_not_the_latest_preceding_value() -> None:
    found = findings(timed([(0, 138), (6, 133), (12, 132)]))
    assert fired(found, FALLING_SODIUM) == ["r3"]
    assert -only(found, FALLING_SODIUM).rise_mmol_l == 6  # type: ignore[operator]


# --- HYPERNATREMIA --------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "fires"), [(145, False), (145.1, True), (146, True)])
def test_hypernatremia_above_145(value: float, fires: bool) -> None:
    found = findings([na(0, value)])
    assert fired(found, HYPERNATREMIA) == (["na@0"] if fires else [])


# --- across rules ---------------------------------------------------------------------------

def test_mixed_methods_flag_a_window_of_point_of_care_and_lab_values() -> None:
    mixed = findings([na(0, 120, method=Method.POINT_OF_CARE), na(24, 128.5)])
    assert only(mixed, OVERCORRECTION_24H).mixed_methods is True
    same = findings([na(0, 120, method=Method.POINT_OF_CARE),
                     na(24, 128.5, method=Method.POINT_OF_CARE)])
    assert only(same, OVERCORRECTION_24H).mixed_methods is False


def test_mixed_methods_only_looks_inside_the_window() -> None:
    found = findings([na(0, 130, method=Method.POINT_OF_CARE), na(30, 120), na(54, 128.5)])
    assert only(found, OVERCORRECTION_24H).mixed_methods is False


def test_evaluate_since_reports_only_results_collected_from_then() -> None:
    data = PatientData(sodium=series(T0, [115, 116, 117], every_hours=6))
    found = evaluate(data, built_in("default"), since=at(6))
    assert fired(found, SEVERE_HYPONATREMIA) == ["r2", "r3"]


def test_a_quiet_series_gives_no_findings() -> None:
    assert findings(series(T0, [138, 139, 140, 139, 138], every_hours=6)) == []


@pytest.mark.parametrize("code", ["R64", "E64.0", "E43"])
def test_cachexia_and_sequelae_of_malnutrition_are_malnutrition(code: str) -> None:
    # V2-13: high-risk limit 6, so +7 fires.
    f = only(findings(timed([(0, 118), (20, 125)]), codes=[code]), OVERCORRECTION_24H)
    assert f.risk_factors == ("malnutrition",) and f.limit_mmol_l == 6
