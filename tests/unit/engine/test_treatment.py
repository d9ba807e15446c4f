"""Medication classes (code map, RxNorm, text) and HYPERTONIC_SALINE_MILD in the ledger."""

from __future__ import annotations

import pytest

from monitor.engine.medication import Medication, MedicationClass, MedicationKind
from monitor.engine.messages import HYPERTONIC_ADVICE, message
from monitor.engine.policy import PolicyError, _validate, built_in
from monitor.engine.reconcile import WITHDRAWN
from monitor.engine.rules import HYPERTONIC_SALINE_MILD
from monitor.engine.treatment import class_of, classify
from tests.unit.engine.builders import Feed, at

DEFAULT = built_in("default")
C = MedicationClass


def med(text: str, *, code: str | None = None, rxnorm: str | None = None, hours: float = 1,
        key: str = "o1", status: str = "active",
        kind: MedicationKind = MedicationKind.ORDER) -> Medication:
    return Medication(key, kind, at(hours), text, status, local_code=code, rxnorm=rxnorm)


@pytest.mark.parametrize(("text", "expected"), [
    ("Sodium chloride 3% 250 mL IV", C.HYPERTONIC_SALINE),
    ("NaCl 3 % infusion", C.HYPERTONIC_SALINE),
    ("3% saline 150 mL bolus", C.HYPERTONIC_SALINE),
    ("Hypertonic saline 100 mL", C.HYPERTONIC_SALINE),
    ("Sodium chloride 0.9% 1000 mL IV", C.ISOTONIC_SALINE),
    ("Normal saline 500 mL", C.ISOTONIC_SALINE),
    ("Dextrose 5% in sodium chloride 0.9%", C.ISOTONIC_SALINE),
    ("Sodium chloride 0.45% 1000 mL", C.HYPOTONIC_FLUID),
    ("D5W 1000 mL IV", C.HYPOTONIC_FLUID),
    ("Dextrose 5% 500 mL", C.HYPOTONIC_FLUID),
    ("Tolvaptan 15 mg tablet", C.VAPTAN),
    ("Conivaptan 20 mg IV", C.VAPTAN),
    ("Desmopressin 2 microgram IV", C.DESMOPRESSIN),
    ("DDAVP 1 mcg", C.DESMOPRESSIN),
    ("Urea 15 g sachet", C.UREA),
    ("Sodium chloride 1 g tablets", C.SALT_TABLETS),
    ("Furosemide 40 mg IV", C.LOOP_DIURETIC),
    ("Bumetanide 1 mg", C.LOOP_DIURETIC),
    ("Hydrochlorothiazide 25 mg", C.THIAZIDE_DIURETIC),
    ("Indapamide 2.5 mg", C.THIAZIDE_DIURETIC),
])
def test_the_text_patterns_recognise_the_classes_out_of_the_box(
        text: str, expected: MedicationClass) -> None:
    assert class_of(med(text), {}, DEFAULT) is expected


@pytest.mark.parametrize("text", ["Paracetamol 1 g", "Urea 10% cream", "Sodium chloride 0.3%",
                                  "Potassium chloride 20 mmol", ""])
def test_what_no_pattern_names_stays_unknown(text: str) -> None:
    assert class_of(med(text), {}, DEFAULT) is None


def test_the_hospital_code_map_comes_first_then_rxnorm_then_text() -> None:
    # The map names the class whatever the text says.
    assert class_of(med("Furosemide 40 mg", code="NA3"), {"NA3": "hypertonic-saline"},
                    DEFAULT) is C.HYPERTONIC_SALINE
    # RxNorm 4603 (furosemide) before a text that says nothing.
    assert class_of(med("Ward stock 1", rxnorm="4603"), {}, DEFAULT) is C.LOOP_DIURETIC
    assert class_of(med("item", rxnorm="5487"), {}, DEFAULT) is C.THIAZIDE_DIURETIC
    # An unknown RxNorm code falls through to the text.
    assert class_of(med("D5W", rxnorm="999999999"), {}, DEFAULT) is C.HYPOTONIC_FLUID
    assert classify(med("Sodium chloride 3% 250 mL IV"), {}, DEFAULT).med_class \
        is C.HYPERTONIC_SALINE


def test_a_profile_may_replace_the_text_patterns_and_a_bad_one_is_refused() -> None:
    data = DEFAULT.model_dump()
    data["treatment"]["text_patterns"] = [["vaptan", r"\bnewvaptan\b"]]
    custom = _validate(data, "custom")
    assert class_of(med("Newvaptan 5 mg"), {}, custom) is C.VAPTAN
    assert class_of(med("Sodium chloride 3%"), {}, custom) is None
    data["treatment"]["text_patterns"] = [["magic", "x"]]
    with pytest.raises(PolicyError, match="unknown class 'magic'"):
        _validate(data, "custom")
    data["treatment"]["text_patterns"] = [["vaptan", "("]]
    with pytest.raises(PolicyError, match="not a regular expression"):
        _validate(data, "custom")


def test_every_built_in_profile_sets_the_treatment_parameters() -> None:
    for name in ("default", "us-2013", "eu-2014", "salsa-2021"):
        t = built_in(name).treatment
        assert t.sodium_lookback_hours == 24 and t.symptoms_hours == 24


def saline(hours: float, key: str = "o1", status: str = "active",
           kind: MedicationKind = MedicationKind.ORDER) -> Medication:
    return classify(med("Sodium chloride 3% 250 mL IV", hours=hours, key=key, status=status,
                        kind=kind), {}, DEFAULT)


def test_hypertonic_saline_at_mild_sodium_raises_a_warning() -> None:
    feed = Feed()
    feed.send("na1", 0, 130)
    changes = feed.ledger.add_medication(saline(2), feed.new_id)
    assert [(c.kind, c.alert.rule) for c in changes] == [("raised", HYPERTONIC_SALINE_MILD)]
    alert = feed.active()[HYPERTONIC_SALINE_MILD]
    assert alert.severity == "warning" and alert.latest.result_key == "na1"
    text = message(alert.latest, DEFAULT)
    assert HYPERTONIC_ADVICE in text and "ordered" in text and "130" in text


@pytest.mark.parametrize("value", [117, 124, 125])
def test_hypertonic_saline_below_the_mild_band_raises_nothing(value: float) -> None:
    feed = Feed()
    feed.send("na1", 0, value)
    assert feed.ledger.add_medication(saline(2), feed.new_id) == []
    assert HYPERTONIC_SALINE_MILD not in feed.active()


def test_the_mild_band_comes_from_the_profile() -> None:
    feed = Feed("eu-2014")  # mild from 130
    feed.send("na1", 0, 128)
    feed.ledger.add_medication(saline(2), feed.new_id)
    assert HYPERTONIC_SALINE_MILD not in feed.active()
    feed = Feed("default")  # mild from 126
    feed.send("na1", 0, 128)
    feed.ledger.add_medication(saline(2), feed.new_id)
    assert HYPERTONIC_SALINE_MILD in feed.active()


def test_severe_symptoms_recorded_make_it_indicated_and_withdraw_the_alert() -> None:
    feed = Feed()
    feed.send("na1", 0, 131)
    feed.ledger.add_medication(saline(2), feed.new_id)
    changes = feed.ledger.record_severe_symptoms(at(3), feed.new_id,
                                                 cause="dr.ali recorded severe symptoms")
    assert [(c.kind, c.alert.rule) for c in changes] == [("withdrawn", HYPERTONIC_SALINE_MILD)]
    assert changes[0].alert.state == WITHDRAWN
    assert changes[0].alert.withdrawn_reason == "dr.ali recorded severe symptoms"
    # A later order within the symptoms' hours raises nothing either.
    assert feed.ledger.add_medication(saline(5, key="o2"), feed.new_id) == []


def test_symptoms_recorded_before_the_order_and_an_administration() -> None:
    feed = Feed()
    feed.send("na1", 0, 133)
    feed.ledger.record_severe_symptoms(at(1), feed.new_id)
    assert feed.ledger.add_medication(saline(2), feed.new_id) == []
    # Long after the symptoms, an administration raises it (given, not ordered).
    feed.send("na2", 40, 133)
    feed.ledger.add_medication(saline(41, key="a1", kind=MedicationKind.ADMINISTRATION),
                               feed.new_id)
    alert = feed.active()[HYPERTONIC_SALINE_MILD]
    assert alert.latest.result_key == "na2" and "given" in message(alert.latest, DEFAULT)


def test_a_cancelled_order_withdraws_and_other_classes_change_nothing() -> None:
    feed = Feed()
    feed.send("na1", 0, 130)
    feed.ledger.add_medication(saline(2), feed.new_id)
    changes = feed.ledger.add_medication(saline(2, status="cancelled"), feed.new_id)
    assert [(c.kind, c.alert.rule) for c in changes] == [("withdrawn", HYPERTONIC_SALINE_MILD)]
    d5w = classify(med("D5W 1000 mL", key="o9"), {}, DEFAULT)
    assert feed.ledger.add_medication(d5w, feed.new_id) == []
    assert "o9" not in feed.ledger.medications  # no rule reads it: not held


def test_no_recent_sodium_no_alert_and_a_late_sodium_before_the_order_raises_it() -> None:
    feed = Feed()
    feed.send("na1", 0, 130)
    feed.ledger.add_medication(saline(30), feed.new_id)  # 30 h after the only sodium
    assert HYPERTONIC_SALINE_MILD not in feed.active()
    feed.send("na2", 28, 131)  # collected before the order, sent after it
    assert feed.active()[HYPERTONIC_SALINE_MILD].latest.result_key == "na2"


def test_desmopressin_after_an_overcorrection_is_noted_as_re_lowering() -> None:
    from monitor.engine.rules import OVERCORRECTION_24H

    feed = Feed()
    feed.send("na1", 0, 120)
    feed.send("na2", 12, 130)  # +10 in 12 h: OVERCORRECTION_24H
    ddavp = classify(med("Desmopressin 2 microgram IV", hours=13, key="d1"), {}, DEFAULT)
    changes = feed.ledger.add_medication(ddavp, feed.new_id)
    assert [(c.kind, c.alert.rule) for c in changes] == [("updated", OVERCORRECTION_24H)]
    note = "re-lowering in progress: Desmopressin 2 microgram IV ordered at 21:00 on 4 Mar"
    assert list(feed.active()[OVERCORRECTION_24H].notes.values()) == [note]
    assert feed.ledger.add_medication(ddavp, feed.new_id) == []  # told once
    d5w = classify(med("D5W 500 mL", hours=14, key="d2", kind=MedicationKind.ADMINISTRATION),
                   {}, DEFAULT)
    assert len(feed.ledger.add_medication(d5w, feed.new_id)) == 1
    # Long after the event, or before it, nothing is noted.
    late = classify(med("D5W 500 mL", hours=12 + 49, key="d3"), {}, DEFAULT)
    assert feed.ledger.add_medication(late, feed.new_id) == []
