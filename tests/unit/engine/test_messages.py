"""messages.message: the numbers, the limit, the action, and the mixed-methods caveat."""

from __future__ import annotations

from monitor.engine.messages import lab_factor_words, message
from monitor.engine.model import Method
from monitor.engine.policy import built_in
from monitor.engine.rules import (
    FALLING_SODIUM,
    HYPERNATREMIA,
    OVERCORRECTION_24H,
    PROJECTED_OVERCORRECTION,
    SEVERE_HYPONATREMIA,
)
from tests.unit.engine.builders import findings, na, only, timed

DEFAULT = built_in("default")


def test_overcorrection_message_has_numbers_limit_tier_and_action() -> None:
    f = only(findings(timed([(0, 120), (24, 128.5)])), OVERCORRECTION_24H)
    text = message(f, DEFAULT)
    # T0 is 08:00 UTC on 4 Mar 2024.
    for part in ("rose 8.5 mmol/L in 24 h, from 120 at 08:00 on 4 Mar to 128.5 mmol/L",
                 "the limit of 8 mmol/L per 24 h \u2014 seed guideline",
                 "a standard-risk patient", "Call the physician now; stop active correction; "
                 "consider re-lowering per protocol."):
        assert part in text, text
    assert "point-of-care" not in text and "policy default" not in text


def test_the_real_span_and_start_of_an_interpolated_window() -> None:
    # V2-01: 121 at 07:00, 130 at 07:20 the next day.
    f = only(findings(timed([(-1, 121), (23 + 20 / 60, 130)])), OVERCORRECTION_24H)
    text = message(f, DEFAULT)
    assert "rose 9 mmol/L in 24 h 20 min, from 121 at 07:00 on 4 Mar" in text, text
    assert "8.9 mmol/L over the 24 h window, interpolated" in text


def test_a_warning_asks_for_a_recheck_not_for_re_lowering() -> None:
    # V2-08: mild nadir (130), +9 in 20 h.
    f = only(findings(timed([(0, 130), (20, 139)])), OVERCORRECTION_24H)
    assert f.severity == "warning"
    text = message(f, DEFAULT)
    assert "Tell the physician; recheck sodium within 4 h." in text
    assert "re-lowering" not in text and "call the physician now" not in text.lower()


def test_high_risk_message_names_the_factors_in_words() -> None:
    f = only(findings(timed([(0, 104), (24, 111)]), codes=["F10.20"]), OVERCORRECTION_24H)
    text = message(f, DEFAULT, diagnoses={"F1020"})
    assert "high-risk patient (alcohol use disorder (F10.20); sodium \u2264 105 mmol/L in " \
           "this episode)" in text, text
    assert "sodium<=105" not in text and "alcohol-use-disorder" not in text
    assert "limit of 6 mmol/L per 24 h \u2014 seed guideline" in text


def test_a_diagnosis_is_named_with_where_it_came_from() -> None:
    f = only(findings(timed([(0, 110), (24, 117)]), codes=["F10.20"]), OVERCORRECTION_24H)
    assert "alcohol use disorder (F10.20, from ADT)" in message(f, DEFAULT,
                                                                 diagnoses={"F1020": "ADT"})


def test_the_safety_floor_is_named_as_the_source() -> None:
    f = only(findings(timed([(0, 114), (20, 124)]), "salsa-2021", codes=["K70.30"]),
             OVERCORRECTION_24H)
    assert "limit of 8 mmol/L per 24 h \u2014 project safety floor" in message(
        f, built_in("salsa-2021"), diagnoses={"K7030"})


def test_a_mixed_window_says_so() -> None:
    found = findings([na(0, 120, method=Method.POINT_OF_CARE), na(24, 128.5)])
    text = message(only(found, OVERCORRECTION_24H), DEFAULT)
    assert "point-of-care and laboratory values are mixed" in text


def test_projection_message_says_when_the_limit_is_reached_and_when_to_recheck() -> None:
    f = only(findings(timed([(0, 120), (2, 122), (4, 124)])), PROJECTED_OVERCORRECTION)
    text = message(f, DEFAULT)
    assert "risen 4 mmol/L from 120 at 08:00 on 4 Mar" in text and "rising 1.00" in text
    # 4 mmol/L left at 1 mmol/L/h from 12:00: the limit at 16:00; recheck by then.
    assert "at this rate the limit is reached about 16:00 on 4 Mar" in text, text
    assert "recheck sodium by 16:00 on 4 Mar" in text
    assert "projected rise" not in text


def test_the_other_rules_have_their_message() -> None:
    found = findings(timed([(0, 141), (12, 119)]))
    assert "severe band (below 120)" in message(only(found, SEVERE_HYPONATREMIA), DEFAULT)
    assert "fell 22 mmol/L to 119" in message(only(found, FALLING_SODIUM), DEFAULT)
    high = only(findings([na(0, 150)]), HYPERNATREMIA)
    assert "150 mmol/L is above 145" in message(high, DEFAULT)


def test_lab_factors_are_named_in_words() -> None:
    assert lab_factor_words("sodium<=105", DEFAULT) == "sodium \u2264 105 mmol/L in this episode"
    assert lab_factor_words("hypokalemia", DEFAULT).startswith("hypokalemia (potassium below 3.5")
