"""What intake refuses because the database cannot store it: lengths from the columns, NUL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from monitor.engine.model import (
    Analyte,
    Diagnosis,
    Method,
    PatientRef,
    ResultStatus,
    RiskSource,
)
from monitor.ingest.events import DiagnosisEvent, MergeEvent, PatientEvent, Reject, ResultEvent
from monitor.services.intake.inbox import screen
from monitor.services.intake.limits import (
    BED,
    IDENTIFIER,
    RESULT_KEY,
    WARD,
    storable_text,
    unstorable,
    unstorable_message_id,
)
from monitor.storage.tables import Patient, Result, Ward

NOW = datetime(2026, 9, 14, 9, 30, tzinfo=UTC)
MRN = PatientRef("CITYGEN", "MRN1")


def result(**fields: object) -> ResultEvent:
    event = ResultEvent(MRN, "ORD1|2951-2|", Analyte.SODIUM, "2951-2", Method.LAB, None,
                        "125", "mmol/L", 125.0, NOW, ResultStatus.FINAL, "a.hl7:6 (MSH-10 C1)",
                        ward="MED4", bed="01", message_id="C1")
    return replace(event, **fields)  # type: ignore[arg-type]


def test_the_limits_are_the_columns() -> None:
    columns = (Patient.__table__.c.bed, Patient.__table__.c.identifier,
               Result.__table__.c.result_key, Ward.__table__.c.code)
    assert [c.type.length for c in columns] == [BED, IDENTIFIER, RESULT_KEY, WARD]


def test_a_storable_result_passes() -> None:
    assert unstorable(result(), "hl7") is None
    assert unstorable(result(bed="x" * BED, ward="W" * WARD), "hl7") is None


def test_each_overlong_field_is_named_with_its_limit() -> None:
    assert unstorable(result(bed="B" * 60), "hl7") == (
        "PV1-3.3 bed is 60 characters; at most 50 are stored")
    assert unstorable(result(ward="W" * 70), "hl7") == (
        "PV1-3.1 ward is 70 characters; at most 64 are stored")
    assert "result id is 400 characters; at most 300" in (
        unstorable(result(result_key="K" * 400), "hl7") or "")
    assert unstorable(result(patient=PatientRef("", "P" * 150)), "fhir") == (
        "subject identifier is 150 characters; at most 100 are stored")
    assert unstorable(result(patient=PatientRef("", "P" * 150)), "json") == (
        "patient_id is 150 characters; at most 100 are stored")


def test_a_nul_byte_in_any_stored_text_is_refused() -> None:
    assert unstorable(result(value_raw="12\x005"), "hl7") == (
        "OBX-5 value contains a NUL byte, which cannot be stored")
    assert unstorable(result(unit_raw="mmol\x00"), None) == (
        "unit contains a NUL byte, which cannot be stored")
    # Long values and units are stored cut to their column, not refused.
    assert unstorable(result(value_raw="1" * 500, unit_raw="u" * 500), "hl7") is None


def test_patient_events_diagnoses_and_merges_are_checked_too() -> None:
    move = PatientEvent(MRN, "A02", "MED4", "B" * 60, False, "adt.hl7:1")
    assert unstorable(move, "hl7") == "PV1-3.3 bed is 60 characters; at most 50 are stored"
    code = DiagnosisEvent(MRN, Diagnosis("E87" + "1" * 30, RiskSource.ADT), "adt.hl7:4")
    assert "DG1-3 code is 33 characters; at most 32" in (unstorable(code, "hl7") or "")
    merge = MergeEvent(MRN, PatientRef("CITYGEN", "O\x00LD"), "adt.hl7:5")
    assert unstorable(merge, "hl7") == (
        "MRG-1.1 patient id contains a NUL byte, which cannot be stored")


def test_the_message_control_id() -> None:
    assert unstorable_message_id("C1", "hl7") is None
    assert unstorable_message_id("C\x001", "hl7") == (
        "MSH-10 message control id contains a NUL byte, which cannot be stored")
    assert unstorable_message_id("C" * 201, "hl7") == (
        "MSH-10 message control id is 201 characters; at most 200 are stored")


def test_screen_turns_the_unstorable_into_rejects_and_keeps_the_rest() -> None:
    good, bad = result(), result(result_key="ORD2|2951-2|", bed="B" * 60)
    out = screen([good, bad], NOW, "hl7")
    assert out[0] is good
    assert isinstance(out[1], Reject) and out[1].position == bad.position
    assert out[1].reason.startswith("PV1-3.3 bed is 60 characters")


def test_reject_text_is_made_storable() -> None:
    assert storable_text("a\x00b") == "a\\x00b"
    assert storable_text("p" * 400, 300) == "p" * 300
