"""messages.message: the numbers, the limit, the action, and the mixed-methods caveat."""

from __future__ import annotations

from monitor.engine.messages import message
from monitor.engine.model import Method
from monitor.engine.policy import built_in
from monitor.engine.rules import (
    FALLING_SODIUM,
    HYPERNATREMIA,
    OVERCORRECTION_24H,
    OVERCORRECTION_48H,
    PROJECTED_OVERCORRECTION,
    SEVERE_HYPONATREMIA,
)
from tests.unit.engine.builders import findings, na, only, timed

DEFAULT = built_in("default")


def test_overcorrection_message_has_numbers_limit_tier_and_action() -> None:
    f = only(findings(timed([(0, 120), (24, 128.5)])), OVERCORRECTION_24H)
    text = message(f, DEFAULT)
    for part in ("rose 8.5 mmol/L in 24 h", "120 to 128.5", "8 mmol/L limit",
                 "standard-risk", "stop active sodium correction", "policy default"):
        assert part in text
    assert "point-of-care" not in text


def test_high_risk_message_names_the_factors() -> None:
    f = only(findings(timed([(0, 120), (48, 132.5)]), codes=["K70"]), OVERCORRECTION_48H)
    assert "high-risk (liver-disease)" in message(f, DEFAULT)


def test_a_mixed_window_says_so() -> None:
    found = findings([na(0, 120, method=Method.POINT_OF_CARE), na(24, 128.5)])
    text = message(only(found, OVERCORRECTION_24H), DEFAULT)
    assert "point-of-care and laboratory values are mixed" in text


def test_projection_message() -> None:
    f = only(findings(timed([(0, 120), (2, 122), (4, 124)])), PROJECTED_OVERCORRECTION)
    text = message(f, DEFAULT)
    assert "risen 4 mmol/L from 120" in text and "rising 1.00 mmol/L/h" in text
    assert "24 mmol/L within 24 h of the low value" in text and "8 mmol/L limit" in text


def test_the_other_rules_have_their_message() -> None:
    found = findings(timed([(0, 141), (12, 119)]))
    assert "severe band (below 120)" in message(only(found, SEVERE_HYPONATREMIA), DEFAULT)
    assert "fell 22 mmol/L to 119" in message(only(found, FALLING_SODIUM), DEFAULT)
    high = only(findings([na(0, 150)]), HYPERNATREMIA)
    assert "150 mmol/L is above 145" in message(high, DEFAULT)
