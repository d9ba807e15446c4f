"""ADT: movements, diagnoses from DG1, merges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.engine.model import PatientRef, RiskSource
from monitor.ingest import parse_hl7_message
from monitor.ingest.events import (
    DiagnosisEvent,
    Item,
    MergeEvent,
    PatientEvent,
    Reject,
    UnmappedCode,
)

from .builders import UTC_TZ, message, msh, pid, pv1, seg


def adt(trigger: str, *body: str, processing: str = "P") -> list[Item]:
    head = msh(kind=f"ADT^{trigger}^ADT_A01", processing=processing)
    evn = seg("EVN", {1: trigger, 2: "20260914060000+0000"})
    outcome = parse_hl7_message(message(head, evn, *body), source="adt", tz=UTC_TZ)
    assert outcome.error is None and outcome.unsupported is None, outcome
    return outcome.items


def dg1(code: str, action: str = "") -> str:
    return seg("DG1", {1: "1", 3: code, 6: "W", 21: action})


@pytest.mark.parametrize("trigger", ["A01", "A02", "A03", "A04", "A08"])
def test_movement_gives_ward_and_bed(trigger: str) -> None:
    (event,) = adt(trigger, pid(), pv1("ICU^12^3^CITYGEN"))

    assert isinstance(event, PatientEvent)
    assert (event.patient, event.event_type) == (PatientRef("CITYGEN", "MRN1"), trigger)
    assert (event.ward, event.bed) == ("ICU", "3")
    assert event.discharged is (trigger == "A03")
    assert event.occurred_at == datetime(2026, 9, 14, 6, tzinfo=UTC)
    assert event.position == "adt:3 (MSH-10 C1)"


def test_a02_transfer_moves_the_patient_to_the_new_ward() -> None:
    (event,) = adt("A02", pid(), pv1("CARD^1^2"))

    assert isinstance(event, PatientEvent) and event.ward == "CARD"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("F10.20^Alcohol dependence^I10", "F1020"),
        ("k70.3^^I10C", "K703"),
        ("E44.0^^ICD-10", "E440"),
        ("E876^^ICD10CM", "E876"),
        ("LOCAL1^Liver^99LOC^K74.6^Cirrhosis^I10", "K746"),
    ],
)
def test_icd10_diagnoses(code: str, expected: str) -> None:
    items = adt("A08", pid(), pv1(), dg1(code))
    diagnoses = [item for item in items if isinstance(item, DiagnosisEvent)]

    assert [d.diagnosis.code for d in diagnoses] == [expected]
    assert diagnoses[0].diagnosis.source is RiskSource.ADT
    assert diagnoses[0].diagnosis.active
    assert diagnoses[0].position == "adt:5 (MSH-10 C1)"


def test_snomed_ct_diagnoses_are_taken_under_their_own_system() -> None:
    items = adt("A08", pid(), pv1(), dg1("197321007^Steatosis^SCT"),
                dg1("LOCAL7^^99LOC^19943007^Cirrhosis^SNOMEDCT"))
    diagnoses = [item for item in items if isinstance(item, DiagnosisEvent)]

    assert [d.diagnosis.code for d in diagnoses] == ["SCT:197321007", "SCT:19943007"]


def test_other_coding_systems_are_counted_as_codes_not_used() -> None:
    items = adt("A08", pid(), pv1(), dg1("571.0^^I9"))

    assert [type(item) for item in items] == [PatientEvent, UnmappedCode]
    assert (items[1].system, items[1].code) == ("I9", "571.0")


def test_dg1_delete_action_voids_the_diagnosis() -> None:
    items = adt("A08", pid(), dg1("F10.20^^I10", action="D"))

    assert isinstance(items[1], DiagnosisEvent)
    assert items[1].diagnosis.voided == "deleted by the sender (DG1-21 D)"


def test_a40_merge() -> None:
    mrg = seg("MRG", {1: "OLD9^^^CITYGEN^MR"})
    (merge,) = adt("A40", pid("NEW1^^^CITYGEN^MR"), mrg)

    assert isinstance(merge, MergeEvent)
    assert merge.survivor == PatientRef("CITYGEN", "NEW1")
    assert merge.old == PatientRef("CITYGEN", "OLD9")


def test_a40_without_mrg_identifier_is_rejected() -> None:
    items = adt("A40", pid(), seg("MRG", {1: ""}))

    assert isinstance(items[0], Reject) and "MRG-1" in items[0].reason


def test_a40_without_mrg_is_a_message_error() -> None:
    head = msh(kind="ADT^A40^ADT_A39")
    outcome = parse_hl7_message(message(head, pid()), source="adt", tz=UTC_TZ)

    assert outcome.error == "ADT^A40 without an MRG segment"


def test_training_adt_events_are_test() -> None:
    mrg = seg("MRG", {1: "OLD9^^^CITYGEN^MR"})
    items = adt("A08", pid(), dg1("F10.20^^I10"), processing="T")
    merges = adt("A40", pid(), mrg, processing="T")

    assert all(item.test for item in items + merges if not isinstance(item, Reject))


def test_adt_without_pid_is_a_message_error() -> None:
    outcome = parse_hl7_message(message(msh(kind="ADT^A01"), pv1()), source="adt", tz=UTC_TZ)

    assert outcome.error == "no PID segment"
