"""Risk factors: coded diagnoses, Na <= 105 in the episode, K < 3.5 in the episode or 72 h
before the result."""

from __future__ import annotations

import pytest

from monitor.engine.model import Analyte, Measurement
from monitor.engine.policy import built_in
from monitor.engine.risk import POTASSIUM_LOW, SODIUM_LOW, factors_from_diagnoses
from monitor.engine.rules import OVERCORRECTION_24H, SEVERE_HYPONATREMIA
from tests.unit.engine.builders import Feed, findings, fired, k, na, only, timed

SECOND = 1 / 3600


def factors(*codes: str) -> frozenset[str]:
    return factors_from_diagnoses(codes, built_in("default"))


# --- diagnoses ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("code", "factor"),
    [
        ("K70", "liver-disease"), ("K70.3", "liver-disease"), ("K703", "liver-disease"),
        ("K76.0", "liver-disease"), ("K77", "liver-disease"), ("k74.6", "liver-disease"),
        ("F10", "alcohol-use-disorder"), ("F10.20", "alcohol-use-disorder"),
        ("E40", "malnutrition"), ("E43", "malnutrition"), ("E46", "malnutrition"),
        ("E87.6", "hypokalemia"), ("E876", "hypokalemia"),
        ("liver-disease", "liver-disease"), ("Malnutrition", "malnutrition"),
    ],
)
def test_codes_with_or_without_dot_map_to_their_factor(code: str, factor: str) -> None:
    assert factors(code) == {factor}


@pytest.mark.parametrize("code", ["K69", "K78", "K7", "F11", "F1", "E39", "E47", "E87.1",
                                  "E22.2", "I10", ""])
def test_codes_outside_the_ranges_are_no_risk_factor(code: str) -> None:
    assert factors(code) == frozenset()


def test_several_codes_give_several_factors() -> None:
    assert factors("K70.3", "F10.2", "I10") == {"liver-disease", "alcohol-use-disorder"}


def test_a_diagnosis_puts_every_result_in_the_high_tier() -> None:
    found = findings(timed([(0, 110), (30, 115)]), codes=["F10.2"])
    assert {f.risk_tier for f in found} == {"high"}
    assert {f.risk_factors for f in found} == {("alcohol-use-disorder",)}


def test_a_later_diagnosis_re_evaluates_earlier_results() -> None:
    feed = Feed()
    feed.send("r1", 0, 120)
    feed.send("r2", 24, 126.5)
    assert feed.active() == {}
    changes = feed.diagnose("K70.3")
    assert [(c.kind, c.alert.rule) for c in changes] == [("raised", OVERCORRECTION_24H)]
    assert feed.active()[OVERCORRECTION_24H].worst.risk_tier == "high"


def test_withdrawing_the_diagnosis_withdraws_what_only_it_raised() -> None:
    feed = Feed()
    feed.diagnose("K70.3")
    feed.send("r1", 0, 120)
    feed.send("r2", 24, 126.5)
    assert OVERCORRECTION_24H in feed.active()
    changes = feed.diagnose("K70.3", active=False)
    assert [(c.kind, c.alert.rule) for c in changes] == [("withdrawn", OVERCORRECTION_24H)]


# --- Na <= 105 in the current episode -------------------------------------------------------

@pytest.mark.parametrize(("low", "high"), [(105, True), (105.1, False)])
def test_a_sodium_at_or_below_105_in_the_episode_is_a_risk_factor(low: float,
                                                                   high: bool) -> None:
    # Rise 6.5: above the high-risk limit 6, below the standard 8.
    found = findings(timed([(0, low), (24, low + 6.5)]))
    assert fired(found, OVERCORRECTION_24H) == (["r2"] if high else [])
    later = [f for f in found if f.result_key == "r2"]
    assert {f.risk_factors for f in later} == ({(SODIUM_LOW,)} if high else {()})


def test_sodium_105_counts_from_that_result_on_not_before() -> None:
    found = findings(timed([(0, 110), (6, 104), (12, 108)]))
    tiers = {f.result_key: f.risk_tier for f in found if f.rule == SEVERE_HYPONATREMIA}
    assert tiers == {"r1": "standard", "r2": "high", "r3": "high"}


def test_sodium_105_in_an_earlier_episode_does_not_count() -> None:
    # The first episode ends at 24 h (136 and 137 spanning 14 h); a new one starts at 60 h.
    found = findings(timed([(0, 104), (10, 136), (24, 137), (60, 118), (84, 118.5)]))
    tiers = {f.result_key: f.risk_factors for f in found if f.rule == SEVERE_HYPONATREMIA}
    assert tiers == {"r1": (SODIUM_LOW,), "r4": (), "r5": ()}


# --- potassium < 3.5 ------------------------------------------------------------------------

def tier_at(key: str, sodium: list[Measurement],
            potassium: list[Measurement]) -> tuple[str, ...]:
    found = findings(sodium, potassium=potassium)
    return only([f for f in found if f.result_key == key], SEVERE_HYPONATREMIA).risk_factors


@pytest.mark.parametrize(("value", "high"), [(3.4, True), (3.5, False)])
def test_potassium_below_3_5_is_a_risk_factor(value: float, high: bool) -> None:
    assert tier_at("na@10", [na(10, 115)], [k(4, value)]) == ((POTASSIUM_LOW,) if high else ())


def test_potassium_exactly_72h_before_counts_just_over_does_not() -> None:
    # The sodium result starts its episode, so only the 72 h look-back applies.
    assert tier_at("na@100", [na(100, 115)], [k(28, 3.2)]) == (POTASSIUM_LOW,)
    assert tier_at("na@100", [na(100, 115)], [k(28 - SECOND, 3.2)]) == ()


def test_potassium_earlier_in_the_episode_counts_beyond_72h() -> None:
    sodium = [na(0, 115), na(1, 116), na(48, 117), na(96, 118), na(140, 118)]
    assert tier_at("na@140", sodium, [k(1, 3.1)]) == (POTASSIUM_LOW,)


def test_potassium_before_the_episode_and_beyond_72h_does_not_count() -> None:
    sodium = [na(100, 115), na(130, 116)]
    assert tier_at("na@130", sodium, [k(50, 3.1)]) == ()


def test_potassium_collected_at_the_same_time_counts() -> None:
    assert tier_at("na@10", [na(10, 115)], [k(10, 3.0)]) == (POTASSIUM_LOW,)


def test_potassium_collected_after_the_result_does_not_count() -> None:
    sodium = [na(10, 115), na(20, 116)]
    assert tier_at("na@10", sodium, [k(10 + SECOND, 3.0)]) == ()
    assert tier_at("na@20", sodium, [k(10 + SECOND, 3.0)]) == (POTASSIUM_LOW,)


def test_late_potassium_lowers_the_limit_for_the_results_after_it() -> None:
    feed = Feed()
    feed.send("r1", 0, 120)
    feed.send("r2", 24, 126.5)
    assert feed.active() == {}
    feed.send("k1", 20, 3.1, analyte=Analyte.POTASSIUM)
    alert = feed.active()[OVERCORRECTION_24H]
    assert alert.worst.risk_factors == (POTASSIUM_LOW,) and alert.worst.limit_mmol_l == 6
