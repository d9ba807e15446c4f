"""Which infusion the patient page predicts for (engine.infusion.active_infusion)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.engine.infusion import active_infusion
from monitor.engine.medication import Medication, MedicationClass, MedicationKind
from monitor.engine.policy import built_in

POLICY = built_in("default")
NOW = datetime(2026, 9, 14, 12, tzinfo=UTC)
HYPER, ISO = MedicationClass.HYPERTONIC_SALINE, MedicationClass.ISOTONIC_SALINE


def med(key: str, hours_ago: float, text: str, cls: MedicationClass | None,
        status: str = "active") -> Medication:
    return Medication(key, MedicationKind.ORDER, NOW - timedelta(hours=hours_ago), text,
                      status, med_class=cls)


def test_the_latest_fluid_within_the_day_is_the_one_predicted_for():
    found = active_infusion([med("a", 5, "Sodium chloride 3% 250 mL IV", HYPER),
                             med("b", 2, "Sodium chloride 0.9% 1000 mL IV", ISO)], NOW, POLICY)
    assert found is not None
    assert (found[0].key, found[1].name, found[1].sodium) == ("b", "0.9 % saline", 154)


def test_a_cancelled_order_is_left_out():
    found = active_infusion([med("a", 5, "Sodium chloride 3% 250 mL IV", HYPER),
                             med("b", 2, "Sodium chloride 0.9% 1000 mL IV", ISO, "cancelled")],
                            NOW, POLICY)
    assert found is not None and found[0].key == "a"


def test_an_order_older_than_the_policys_hours_or_not_a_fluid_is_none():
    assert active_infusion([med("a", 24.5, "Sodium chloride 3% 250 mL IV", HYPER),
                            med("b", 1, "Tolvaptan 15 mg PO", MedicationClass.VAPTAN)],
                           NOW, POLICY) is None
    assert active_infusion([med("a", 24, "Sodium chloride 3% 250 mL IV", HYPER)], NOW,
                           POLICY) is not None


def test_a_fluid_whose_text_names_no_known_infusate_is_not_guessed():
    assert active_infusion([med("a", 1, "Hypertonic saline 250 mL", HYPER)], NOW,
                           POLICY) is None
