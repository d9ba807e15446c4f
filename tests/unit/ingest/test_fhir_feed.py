"""FHIR: Observation, Condition, Patient identity, Bundles and NDJSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.engine.model import Method, PatientRef, ResultStatus, RiskSource
from monitor.ingest import parse_fhir, parse_fhir_resource
from monitor.ingest.events import DiagnosisEvent, Item, Reject, ResultEvent, UnmappedCode

from .builders import BERLIN, UTC_TZ

LOINC = "http://loinc.org"


def observation(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "obs-1",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "2951-2"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-09-14T08:00:00+00:00",
        "valueQuantity": {"value": 121, "unit": "mmol/L", "system": "http://unitsofmeasure.org"},
    }
    resource.update(changes)
    return {k: v for k, v in resource.items() if v is not None}


def condition(status: str | None = "active", code: str = "K70.3", **changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": "c1",
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]},
        "subject": {"reference": "Patient/p1"},
    }
    if status:
        resource["clinicalStatus"] = {"coding": [{"code": status}]}
    resource.update(changes)
    return resource


def one(resource: dict[str, Any], **kwargs: Any) -> Item:
    items = parse_fhir_resource(resource, position="req", tz=UTC_TZ, **kwargs)
    assert len(items) == 1, items
    return items[0]


def result(resource: dict[str, Any], **kwargs: Any) -> ResultEvent:
    item = one(resource, **kwargs)
    assert isinstance(item, ResultEvent), item
    return item


def reject(resource: dict[str, Any]) -> Reject:
    item = one(resource)
    assert isinstance(item, Reject), item
    return item


def test_observation_fields() -> None:
    event = result(observation())

    assert event.patient == PatientRef("", "p1")
    assert (event.result_key, event.code, event.method) == ("obs-1", "2951-2", Method.LAB)
    assert (event.value_mmol_l, event.unit_raw, event.status) == (121, "mmol/L", ResultStatus.FINAL)
    assert event.collected_at == datetime(2026, 9, 14, 8, tzinfo=UTC)
    assert event.position == "req (Observation/obs-1)"


def test_identifier_is_the_result_key_and_subject_identifier_the_patient() -> None:
    event = result(
        observation(
            identifier=[{"system": "urn:lab", "value": "A-1"}],
            subject={"identifier": {"system": "urn:mrn", "value": "M1"}},
        )
    )

    assert event.result_key == "urn:lab|A-1"
    assert event.patient == PatientRef("urn:mrn", "M1")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("final", ResultStatus.FINAL),
        ("amended", ResultStatus.CORRECTED),
        ("corrected", ResultStatus.CORRECTED),
        ("preliminary", ResultStatus.PRELIMINARY),
        ("entered-in-error", ResultStatus.REMOVED),
        ("cancelled", ResultStatus.REMOVED),
    ],
)
def test_status_mapping(status: str, expected: ResultStatus) -> None:
    assert result(observation(status=status)).status is expected


@pytest.mark.parametrize("status", ["registered", "unknown"])
def test_unusable_statuses_are_rejected(status: str) -> None:
    assert reject(observation(status=status)).reason == f"status '{status}' is not a usable result"


def test_removal_needs_no_value() -> None:
    assert result(observation(status="entered-in-error", valueQuantity=None)).value_mmol_l is None


def test_effective_period_start_and_naive_time_in_the_feed_zone() -> None:
    period = observation(effectiveDateTime=None, effectivePeriod={"start": "2026-09-14T10:00:00Z"})
    naive = observation(effectiveDateTime="2026-03-29T03:30:00")

    assert result(period).collected_at == datetime(2026, 9, 14, 10, tzinfo=UTC)
    (event,) = parse_fhir_resource(naive, position="r", tz=BERLIN)
    assert isinstance(event, ResultEvent)
    assert event.collected_at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_no_collection_time_is_rejected() -> None:
    assert reject(observation(effectiveDateTime=None)).reason.startswith("no collection time")


def test_censored_and_wrong_unit_are_rejected() -> None:
    censored = observation(valueQuantity={"value": 100, "comparator": "<", "unit": "mmol/L"})
    grams = observation(valueQuantity={"value": 300, "unit": "mg/dL"})

    assert "censored" in reject(censored).reason
    assert reject(grams).reason == "unit 'mg/dL' is not accepted for sodium (mmol/L or mEq/L)"


def test_invalid_observation_is_rejected() -> None:
    bad = observation(valueQuantity={"value": "a lot", "unit": "mmol/L"})

    assert reject(bad).reason.startswith("invalid Observation: valueQuantity.value")


def test_other_codes_are_counted_and_other_resource_types_ignored() -> None:
    haemoglobin = observation(code={"coding": [{"system": LOINC, "code": "718-7"}]})

    assert parse_fhir_resource(haemoglobin, position="r", tz=UTC_TZ) == [
        UnmappedCode(LOINC, "718-7", "r (Observation/obs-1)")]
    encounter = {"resourceType": "Encounter", "id": "e1", "status": "in-progress"}
    assert parse_fhir_resource(encounter, position="r", tz=UTC_TZ) == []


def test_other_codes_are_skipped_before_validation_ours_still_validated() -> None:
    """What we do not follow is not our feed's error: an invalid full blood count in an
    export costs no reject (and no validation); an invalid sodium still is one."""
    bad_value = {"value": "a lot", "unit": "g/dL"}
    haemoglobin = observation(code={"coding": [{"system": LOINC, "code": "718-7"}]},
                              valueQuantity=bad_value, status="no such status")
    assert parse_fhir_resource(haemoglobin, position="r", tz=UTC_TZ) == [
        UnmappedCode(LOINC, "718-7", "r (Observation/obs-1)")]  # counted, not judged
    mapped_away = observation(code={"coding": [{"system": "urn:lab", "code": "HB"}]},
                              valueQuantity=bad_value)
    assert all(isinstance(i, UnmappedCode) for i in parse_fhir_resource(
        mapped_away, position="r", tz=UTC_TZ, local_codes={"HB": "718-7"}))
    sodium = observation(code={"coding": [{"system": "urn:lab", "code": "NA"}]},
                         valueQuantity=bad_value)
    [refused] = parse_fhir_resource(sodium, position="r", tz=UTC_TZ, local_codes={"NA": "2951-2"})
    assert isinstance(refused, Reject)
    assert refused.reason.startswith("invalid Observation: valueQuantity.value")
    other_system = condition(clinicalStatus="active")  # invalid: a CodeableConcept
    other_system["code"] = {"coding": [{"system": "urn:local:dx", "code": "CIRR"}]}
    assert all(isinstance(i, UnmappedCode)
               for i in parse_fhir_resource(other_system, position="r", tz=UTC_TZ))


def test_glucose_is_read_in_mg_dl_and_stored_in_mmol_l() -> None:
    glucose = observation(code={"coding": [{"system": LOINC, "code": "2345-7"}]},
                          valueQuantity={"value": 720, "unit": "mg/dL"})
    [event] = parse_fhir_resource(glucose, position="r", tz=UTC_TZ)
    assert event.analyte.value == "glucose"
    assert round(event.value_mmol_l * 18.016) == 720


def test_local_code_map_and_specimen() -> None:
    local = observation(
        code={"coding": [{"system": "urn:lab-codes", "code": "NA-BG"}]},
        specimen={"display": "Arterial blood"},
    )

    assert parse_fhir_resource(local, position="r", tz=UTC_TZ) == [
        UnmappedCode("urn:lab-codes", "NA-BG", "r (Observation/obs-1)")]
    event = result(local, local_codes={"NA-BG": "77139-4"})
    assert (event.code, event.method, event.specimen) == (
        "77139-4",
        Method.POINT_OF_CARE,
        "Arterial blood",
    )


def test_bundle_patient_identifier_names_the_patient() -> None:
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [
            {"system": "urn:national", "value": "N-1"},
            {
                "type": {"coding": [{"code": "MR"}]},
                "system": "urn:oid:1.2.3",
                "value": "MRN55",
            },
        ],
    }
    by_url = observation(id="o2", subject={"reference": "urn:uuid:abc"})
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": observation()},
            {"fullUrl": "urn:uuid:abc", "resource": patient},
            {"resource": by_url},
        ],
    }
    items = list(parse_fhir(json.dumps(bundle, indent=2), source="b.json", tz=UTC_TZ))

    assert [item.patient for item in items if isinstance(item, ResultEvent)] == [
        PatientRef("urn:oid:1.2.3", "MRN55")
    ] * 2
    assert items[0].position == "b.json entry[0] (Observation/obs-1)"


def test_contained_patient() -> None:
    contained = {"resourceType": "Patient", "id": "pt", "identifier": [{"value": "X7"}]}
    event = result(observation(contained=[contained], subject={"reference": "#pt"}))

    assert event.patient == PatientRef("", "X7")


def test_ndjson_with_a_bad_line() -> None:
    lines = [json.dumps(observation()), "{not json", json.dumps(condition())]
    items = list(parse_fhir("\n".join(lines) + "\n", source="f.ndjson", tz=UTC_TZ))

    assert [type(item) for item in items] == [ResultEvent, Reject, DiagnosisEvent]
    assert items[1].position == "f.ndjson:2"
    assert isinstance(items[1], Reject) and items[1].reason.startswith("invalid JSON")


def test_invalid_json_document() -> None:
    (item,) = parse_fhir(
        '{\n  "resourceType": "Observation",\n  oops\n}', source="x.json", tz=UTC_TZ
    )

    assert isinstance(item, Reject) and item.position == "x.json:3"


def test_not_a_resource() -> None:
    (item,) = parse_fhir('{"hello": 1}', source="x.json", tz=UTC_TZ)

    assert isinstance(item, Reject) and "no resourceType" in item.reason


@pytest.mark.parametrize(
    ("status", "active"),
    [
        ("active", True),
        ("recurrence", True),
        ("inactive", False),
        ("resolved", False),
        (None, False),
    ],
)
def test_condition_clinical_status(status: str | None, active: bool) -> None:
    event = one(condition(status))

    assert isinstance(event, DiagnosisEvent)
    assert (event.diagnosis.code, event.diagnosis.active) == ("K703", active)
    assert event.diagnosis.source is RiskSource.FHIR


def test_refuted_condition_is_void() -> None:
    event = one(condition(verificationStatus={"coding": [{"code": "refuted"}]}))

    assert isinstance(event, DiagnosisEvent)
    assert event.diagnosis.voided == "refuted (verificationStatus)"


def test_condition_in_other_systems_is_counted_not_used() -> None:
    local = condition()
    local["code"] = {"coding": [{"system": "http://hospital.example/dx", "code": "LIV-9"}]}

    assert parse_fhir_resource(local, position="r", tz=UTC_TZ) == [
        UnmappedCode("http://hospital.example/dx", "LIV-9", "r (Condition/c1)")]


def test_condition_icd10_who_system() -> None:
    who = condition()
    who["code"] = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "f10.2"}]}
    event = one(who)

    assert isinstance(event, DiagnosisEvent) and event.diagnosis.code == "F102"
