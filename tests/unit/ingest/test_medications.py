"""Medication inputs: HL7 RDE^O11 and RAS^O17, FHIR MedicationRequest and
MedicationAdministration, CSV medication rows; stored events survive the codec."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from monitor.engine.medication import MedicationKind
from monitor.engine.model import PatientRef
from monitor.ingest import codec, parse_hl7_message
from monitor.ingest.csv_feed import parse_csv
from monitor.ingest.events import MedicationEvent, Reject
from monitor.ingest.fhir_feed import parse_fhir

from .builders import UTC_TZ, message, msh, pid, pv1, seg

PATIENT = PatientRef("CITYGEN", "MRN1")


def rde(*body: str, control: str = "C1") -> str:
    return message(msh(kind="RDE^O11^RDE_O11", control=control), pid(), pv1(), *body)


def test_an_rde_o11_gives_an_order_with_code_amount_units_timing_and_route() -> None:
    outcome = parse_hl7_message(rde(
        seg("ORC", {1: "NW", 2: "PO100", 9: "20260914090000+0000"}),
        seg("RXE", {2: "NACL3^Sodium chloride 3% 250 mL IV^L^000000^NaCl 3%^RXNORM",
                    3: "250", 5: "mL"}),
        seg("TQ1", {1: "1", 7: "20260914093000+0000"}),
        seg("RXR", {1: "IV^Intravenous"})), source="mllp", tz=UTC_TZ)
    assert outcome.error is None and outcome.unsupported is None
    (event,) = outcome.items
    assert isinstance(event, MedicationEvent) and event.patient == PATIENT
    m = event.medication
    assert (m.kind, m.key, m.status) == (MedicationKind.ORDER, "order:PO100", "active")
    assert m.at == datetime(2026, 9, 14, 9, 30, tzinfo=UTC)  # TQ1-7, not ORC-9
    assert (m.local_code, m.code_system, m.rxnorm) == ("NACL3", "L", "000000")
    assert (m.text, m.amount, m.unit, m.route) == ("Sodium chloride 3% 250 mL IV", "250",
                                                   "mL", "Intravenous")
    assert m.med_class is None  # classified where it is applied, with the hospital's map


def test_a_cancelled_order_and_an_order_without_a_time() -> None:
    outcome = parse_hl7_message(rde(
        seg("ORC", {1: "CA", 2: "PO100", 9: "20260914090000+0000"}),
        seg("RXE", {2: "X^Furosemide 40 mg"}),
        seg("ORC", {1: "NW", 2: "PO101"}),
        seg("RXE", {2: "X^Furosemide 40 mg"})), source="mllp", tz=UTC_TZ)
    cancelled, refused = outcome.items
    assert isinstance(cancelled, MedicationEvent) and cancelled.medication.status == "cancelled"
    assert isinstance(refused, Reject) and "no order time" in refused.reason


def test_an_rde_without_rxe_is_refused() -> None:
    outcome = parse_hl7_message(rde(seg("ORC", {1: "NW", 2: "PO1"})), source="m", tz=UTC_TZ)
    assert outcome.error is not None and "without an RXE" in outcome.error


def test_a_ras_o17_gives_administrations() -> None:
    raw = message(msh(kind="RAS^O17^RAS_O17"), pid(),
                  seg("ORC", {1: "RE", 2: "PO100"}),
                  seg("RXA", {1: "0", 2: "1", 3: "20260914100000+0000", 5: "^Sodium chloride 3%",
                              6: "250", 7: "mL", 20: "CP"}),
                  seg("RXR", {1: "IV"}),
                  seg("RXA", {1: "0", 2: "2", 3: "20260914110000+0000", 5: "^Sodium chloride 3%",
                              6: "250", 7: "mL", 20: "RE"}))
    outcome = parse_hl7_message(raw, source="mllp", tz=UTC_TZ)
    given, refused = outcome.items
    assert isinstance(given, MedicationEvent) and isinstance(refused, MedicationEvent)
    assert given.medication.kind is MedicationKind.ADMINISTRATION
    assert (given.medication.key, given.medication.status, given.medication.route) == (
        "given:PO100/0.1", "completed", "IV")
    assert not refused.medication.counts and refused.medication.status == "refused"


def fhir(resource: dict[str, object]) -> list[object]:
    return list(parse_fhir(json.dumps(resource), source="fhir", tz=UTC_TZ))


SUBJECT = {"identifier": {"system": "CITYGEN", "value": "MRN1"}}


def test_fhir_medication_request_and_administration() -> None:
    (order,) = fhir({
        "resourceType": "MedicationRequest", "id": "mr1", "status": "active",
        "intent": "order", "subject": SUBJECT, "authoredOn": "2026-09-14T09:00:00Z",
        "medicationCodeableConcept": {"text": "Sodium chloride 3% 250 mL IV", "coding": [
            {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "4603"},
            {"system": "urn:local", "code": "NACL3"}]},
        "dosageInstruction": [{"route": {"text": "IV"}, "doseAndRate": [
            {"doseQuantity": {"value": 250, "unit": "mL"}}]}]})
    assert isinstance(order, MedicationEvent) and order.patient == PATIENT
    m = order.medication
    assert (m.kind, m.key, m.rxnorm, m.local_code, m.amount, m.unit, m.route) == (
        MedicationKind.ORDER, "MedicationRequest/mr1", "4603", "NACL3", "250", "mL", "IV")
    (given,) = fhir({
        "resourceType": "MedicationAdministration", "id": "ma1", "status": "not-done",
        "subject": SUBJECT, "effectiveDateTime": "2026-09-14T10:00:00Z",
        "medicationCodeableConcept": {"coding": [{"code": "D5W", "display": "D5W 1 L"}]},
        "dosage": {"dose": {"value": 1, "unit": "L"}}})
    assert isinstance(given, MedicationEvent)
    assert (given.medication.text, given.medication.status, given.medication.at) == (
        "D5W 1 L", "not-done", datetime(2026, 9, 14, 10, tzinfo=UTC))
    (bad,) = fhir({"resourceType": "MedicationRequest", "id": "x", "subject": SUBJECT})
    assert isinstance(bad, Reject) and "authoredOn" in bad.reason


def test_csv_medication_rows_for_backfill() -> None:
    text = ("patient_id,given_at,medication,kind,amount,unit,route,medication_id\n"
            "MRN1,2026-09-14T09:00:00+00:00,Sodium chloride 3% 250 mL IV,order,250,mL,IV,o1\n"
            "MRN1,2026-09-14T10:00:00,Furosemide 40 mg,,,,,\n"
            "MRN1,yesterday,D5W,,,,,\n")
    order, given, bad = parse_csv(text, source="m.csv", tz=UTC_TZ)
    assert isinstance(order, MedicationEvent) and isinstance(given, MedicationEvent)
    assert (order.medication.kind, order.medication.key, order.medication.amount) == (
        MedicationKind.ORDER, "csv:o1", "250")
    assert given.medication.kind is MedicationKind.ADMINISTRATION
    assert given.medication.status == "completed" and given.patient == PatientRef("", "MRN1")
    assert isinstance(bad, Reject) and bad.position == "m.csv:4" and "given_at" in bad.reason


def test_medication_events_survive_the_codec() -> None:
    outcome = parse_hl7_message(rde(
        seg("ORC", {1: "NW", 2: "PO100"}), seg("RXE", {2: "^Sodium chloride 3%", 3: "250"}),
        seg("TQ1", {7: "20260914093000+0000"})), source="mllp", tz=UTC_TZ)
    assert codec.load(codec.dump(outcome.items)) == outcome.items


def test_a_fhir_medication_whose_coding_is_not_a_list_keeps_its_text() -> None:
    """The feeds' medication resources are not validated against the FHIR model: a coding
    or a route coding that is not a list is passed over (it raised TypeError)."""
    (order,) = fhir({
        "resourceType": "MedicationRequest", "id": "mr2", "status": "active",
        "intent": "order", "subject": SUBJECT, "authoredOn": "2026-09-14T09:00:00Z",
        "medicationCodeableConcept": {"text": "Sodium chloride 3%", "coding": {"code": "x"}},
        "dosageInstruction": [{"route": {"coding": 5}}]})
    assert isinstance(order, MedicationEvent)
    assert (order.medication.text, order.medication.local_code, order.medication.route) == (
        "Sodium chloride 3%", None, None)
