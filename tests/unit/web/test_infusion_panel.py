"""The patient page's infusion panel in words (monitor.web.infusion_panel): what is missing
instead of a number, a fluid that lowers the sodium, no limit, the limit reached."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from monitor.engine.corridor import Allowance
from monitor.engine.medication import Medication, MedicationClass, MedicationKind
from monitor.engine.policy import built_in
from monitor.web.infusion_panel import InfusionPanel, infusion_panel

POLICY = built_in("default")
NOW = datetime(2026, 9, 14, 12, tzinfo=UTC)
SALINE = Medication("o1", MedicationKind.ORDER, NOW - timedelta(hours=1),
                    "Sodium chloride 3% 250 mL IV", med_class=MedicationClass.HYPERTONIC_SALINE)
D5W = Medication("o2", MedicationKind.ADMINISTRATION, NOW - timedelta(hours=1),
                 "Dextrose 5% 1000 mL IV", med_class=MedicationClass.HYPOTONIC_FLUID)
WEIGHT = (70.0, NOW - timedelta(hours=3), "entered by nurse.a")


def allowance(latest: float, start: float, limit: float = 8) -> Allowance:
    return Allowance(start + limit, latest, limit, 24.0, start, None, False, False)


def panel(med: Medication = SALINE, weight: tuple[float, datetime, str] | None = WEIGHT,
          sex: str | None = "male", a: Allowance | None = None,
          no_limit: str | None = None) -> InfusionPanel:
    made = infusion_panel([med], weight, sex, date(1976, 1, 1), a or allowance(120, 118),
                          no_limit, [], POLICY, NOW, lambda at: at.strftime("%H:%M"))
    assert made is not None
    return made


def test_a_man_of_50_weighing_70_kg_at_120():
    p = panel()
    # 0.6 x 70 = 42 L; (513 - 120) / 43 = 9.14 per litre; 6 left: 0.656 L -> 660 mL.
    assert ("Total body water", "42 L (0.6 × weight)") in p.facts
    assert p.change_text == "+9.1 mmol/L per litre"
    assert p.volume_text.startswith("About 660 mL of 3 % saline would use the 6 mmol/L left")


def test_sex_not_known_gives_no_number():
    p = panel(sex="unknown")
    assert p.missing == ["sex not known"] and p.change_text is None
    assert ("Sex", "not known") in p.facts
    assert "mL of" not in p.volume_text


def test_weight_and_sex_missing_are_both_named():
    assert panel(weight=None, sex=None).missing == ["weight not known", "sex not known"]


def test_a_fluid_that_lowers_the_sodium_gets_no_volume():
    p = panel(D5W)
    assert p.change_text == "-2.8 mmol/L per litre"  # (0 - 120) / 43
    assert p.volume_text.startswith("5 % dextrose does not raise this sodium")
    assert p.facts[0] == ("Fluid", "Dextrose 5% 1000 mL IV (given 11:00)")


def test_no_limit_applies_and_the_limit_reached():
    row = SimpleNamespace(analyte="sodium", is_current=True, removed=False, flag=None,
                          value_mmol_l=121.0, collected_at=NOW - timedelta(hours=2))
    none = infusion_panel([SALINE], WEIGHT, "male", None, None,
                          "No limit applies now: the rise is spared by the acute mark",
                          [row], POLICY, NOW, str)
    assert none is not None and none.volume_text == (
        "No volume to a limit. No limit applies now: the rise is spared by the acute mark.")
    assert none.change_text == "+9.1 mmol/L per litre"  # (513 - 121) / 43, from the rows
    unknown = infusion_panel([SALINE], WEIGHT, "male", None, None, None, [], POLICY, NOW, str)
    assert unknown is not None and unknown.missing == ["no counted sodium"]
    reached = panel(a=allowance(126, 118))
    assert reached.volume_text.startswith("No volume left: the sodium has reached the limit")


def test_no_active_infusion_no_panel():
    old = Medication("o3", MedicationKind.ORDER, NOW - timedelta(hours=30), SALINE.text,
                     med_class=MedicationClass.HYPERTONIC_SALINE)
    assert infusion_panel([old], WEIGHT, "male", None, None, None, [], POLICY, NOW,
                          str) is None
