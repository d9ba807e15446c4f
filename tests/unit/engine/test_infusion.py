"""The Adrogué–Madias prediction (engine.infusion), against the paper's worked example and
the fluids the policy recognises in an order's text."""

from __future__ import annotations

from datetime import date

import pytest

from monitor.engine.infusion import Infusate, age_on, infusate_of, predict, water_fraction
from monitor.engine.policy import built_in

POLICY = built_in("default")
SALINE_3 = Infusate("3 % saline", 513)


def test_the_papers_worked_example_a_60_kg_woman_of_69_at_108():
    # Adrogué & Madias 2000: body water 0.45 x 60 = 27 L; one litre of 3 % saline raises
    # the sodium by (513 - 108) / (27 + 1) = 14.5 mmol/L.
    p = predict(108, 60, "female", 69, SALINE_3, None, POLICY)
    assert p is not None
    assert p.water_fraction == 0.45 and p.body_water_l == pytest.approx(27)
    assert p.change_per_litre == pytest.approx(14.46, abs=0.01)


def test_the_volume_that_reaches_the_limit_follows_the_change_per_litre():
    # 70 kg man of 50 at 110: body water 42 L, (513 - 110) / 43 = 9.37 mmol/L per litre;
    # 6 mmol/L still allowed in the window -> 0.64 L.
    p = predict(110, 70, "male", 50, SALINE_3, 6, POLICY)
    assert p is not None
    assert p.change_per_litre == pytest.approx(9.372, abs=0.001)
    assert p.litres_to_limit == pytest.approx(0.640, abs=0.001)


def test_potassium_in_the_fluid_counts_like_sodium():
    plain = predict(120, 70, "male", 40, Infusate("0.9 % saline", 154), None, POLICY)
    with_k = predict(120, 70, "male", 40, Infusate("0.9 % + KCl", 154, 40), None, POLICY)
    assert plain is not None and with_k is not None
    assert with_k.change_per_litre - plain.change_per_litre == pytest.approx(40 / 43)


def test_a_fluid_that_lowers_the_sodium_has_no_volume_to_the_limit():
    p = predict(125, 70, "male", 40, Infusate("5 % dextrose", 0), 8, POLICY)
    assert p is not None and p.change_per_litre < 0 and p.litres_to_limit is None


def test_nothing_allowed_any_more_gives_no_volume():
    p = predict(120, 70, "male", 40, SALINE_3, 0, POLICY)
    assert p is not None and p.litres_to_limit is None


@pytest.mark.parametrize(("sex", "age", "fraction"), [
    ("male", 40, 0.6), ("female", 40, 0.5), ("male", 65, 0.5), ("female", 80, 0.45),
    ("male", None, 0.6), ("female", None, 0.5)])
def test_body_water_fraction_by_sex_and_age(sex: str, age: int | None, fraction: float):
    assert water_fraction(sex, age, POLICY) == fraction


@pytest.mark.parametrize("sex", [None, "unknown", "other"])
def test_no_estimate_without_a_sex_the_fractions_depend_on(sex: str | None):
    assert predict(120, 70, sex, 40, SALINE_3, 8, POLICY) is None


def test_no_estimate_without_a_weight():
    assert predict(120, 0, "male", 40, SALINE_3, 8, POLICY) is None


@pytest.mark.parametrize(("text", "name", "sodium"), [
    ("Sodium chloride 3% 250 mL IV", "3 % saline", 513),
    ("NaCl 3 % infusion", "3 % saline", 513),
    ("Sodium chloride 0.9% 1000 mL", "0.9 % saline", 154),
    ("Normal saline 500 mL", "0.9 % saline", 154),
    ("Sodium chloride 0.45% 1 L", "0.45 % saline", 77),
    ("Half-normal saline", "0.45 % saline", 77),
    ("Dextrose 5% in 0.45% sodium chloride", "0.45 % saline", 77),
    ("D5W 1000 mL", "5 % dextrose", 0),
    ("Glucose 5% 500 mL", "5 % dextrose", 0),
    ("Ringer's lactate 1 L", "Ringer's lactate", 130),
    ("Sodium chloride 5% 100 mL IV", "5 % saline", 855),
    ("5 % NaCl 150 mL", "5 % saline", 855),
    ("NaCl 2% 500 mL", "2 % saline", 342),
    ("Sodium chloride 1.8% 500 mL", "1.8 % saline", 308),
    ("Dextrose 5% in sodium chloride 0.9%", "0.9 % saline", 154),
    ("5% dextrose in 0.45% saline", "0.45 % saline", 77),
])
def test_fluids_recognised_in_an_orders_text(text: str, name: str, sodium: float):
    found = infusate_of(text, POLICY)
    assert found is not None and (found.name, found.sodium) == (name, sodium)


@pytest.mark.parametrize("text", ["Tolvaptan 15 mg PO", "Sodium chloride 23.4% 30 mL",
                                  "Furosemide 40 mg IV", "Hypertonic saline"])
def test_a_fluid_the_policy_does_not_know_is_not_guessed(text: str):
    # 23.4 % is not 3 %; "hypertonic" alone names no strength.
    assert infusate_of(text, POLICY) is None


def test_age_on_a_day():
    assert age_on(date(1957, 6, 2), date(2026, 6, 1)) == 68
    assert age_on(date(1957, 6, 2), date(2026, 6, 2)) == 69
