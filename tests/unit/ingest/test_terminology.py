"""Terminology (issue 18 item 3): ICD-10 under WHO, ICD-10-CM and national system URIs,
SNOMED CT risk codes, alcohol social-history Observations, and the codes left unused."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.engine.model import RiskSource
from monitor.engine.policy import SocialHistory, built_in
from monitor.engine.risk import display_code, factors_from_diagnoses
from monitor.ingest import parse_fhir_resource
from monitor.ingest.codes import risk_factor_code
from monitor.ingest.events import DiagnosisEvent, Item, Reject, UnmappedCode
from monitor.ingest.terminology import Terminology

from .builders import UTC_TZ

ICD10_WHO = "http://hl7.org/fhir/sid/icd-10"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
JP_ICD10 = "http://jpfhir.jp/fhir/core/CodeSystem/JP_ICD10"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
JAPAN = Terminology.of([JP_ICD10], SocialHistory())


def condition(system: str, code: str, status: str = "active") -> dict[str, Any]:
    return {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
            "clinicalStatus": {"coding": [{"code": status}]},
            "code": {"coding": [{"system": system, "code": code}]}}


def alcohol(code: str = "11331-6", **value: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": "sh1", "status": "final",
            "category": [{"coding": [{"code": "social-history"}]}],
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2026-08-01T10:00:00+00:00", **value}


def items(resource: dict[str, Any], terms: Terminology = Terminology()) -> list[Item]:
    return parse_fhir_resource(resource, position="r", tz=UTC_TZ, terms=terms)


def codes(resource: dict[str, Any], terms: Terminology = Terminology()) -> list[str]:
    return [e.diagnosis.code for e in items(resource, terms) if isinstance(e, DiagnosisEvent)]


def factors(*codes: str) -> frozenset[str]:
    return factors_from_diagnoses(codes, built_in("default"))


# --- ICD-10 systems --------------------------------------------------------------------

@pytest.mark.parametrize("system", [ICD10_WHO, ICD10_CM, ICD10_WHO + "/",
                                    "urn:oid:2.16.840.1.113883.6.3"])
def test_who_and_us_icd10_systems_are_read(system: str) -> None:
    assert codes(condition(system, "K74.6")) == ["K746"]
    assert factors("K746") == {"liver-disease"}


def test_a_national_icd10_system_is_read_only_when_configured() -> None:
    jp = condition(JP_ICD10, "K70.3")

    assert codes(jp) == []
    assert items(jp) == [UnmappedCode(JP_ICD10, "K70.3", "r (Condition/c1)")]
    assert codes(jp, JAPAN) == ["K703"]
    # The comparison ignores case and a trailing slash, as the setting may be written.
    loose = Terminology.of([JP_ICD10.upper() + "/"], SocialHistory())
    assert codes(jp, loose) == ["K703"]


# --- SNOMED CT -------------------------------------------------------------------------

@pytest.mark.parametrize(("concept", "factor"), [
    ("19943007", "liver-disease"),  # Cirrhosis of liver
    ("41309000", "liver-disease"),  # Alcoholic liver disease
    ("66590003", "alcohol-use-disorder"),  # Alcohol dependence
    ("2492009", "malnutrition"),  # Malnutrition
    ("43339004", "hypokalemia"),  # Hypokalemia
])
def test_each_shipped_snomed_code_maps_to_its_factor(concept: str, factor: str) -> None:
    [code] = codes(condition(SNOMED, concept))

    assert code == f"SCT:{concept}"
    assert factors(code) == {factor}


def test_snomed_codes_are_never_read_as_icd10_nor_icd10_as_snomed() -> None:
    # K70.3's digits are not a SNOMED id, and a SNOMED id is not an ICD-10 range.
    policy = built_in("default").model_copy(update={
        "risk_codes": {"liver-disease": ["S00-S99"]},
        "snomed_risk_codes": {"malnutrition": ["703"]}})
    assert factors_from_diagnoses(["SCT:19943007"], policy) == frozenset()
    assert factors_from_diagnoses(["K703"], policy) == frozenset()
    assert display_code("SCT:19943007") == "SCT:19943007"
    assert display_code("K703") == "K70.3"


def test_a_policy_without_the_snomed_table_turns_snomed_off() -> None:
    off = built_in("default").model_copy(update={"snomed_risk_codes": {}})

    assert factors_from_diagnoses(["SCT:19943007"], off) == frozenset()
    assert factors("SCT:197321007") == frozenset()  # a SNOMED code the table does not hold


def test_a_csv_may_name_a_snomed_code() -> None:
    assert risk_factor_code("SCT:19943007") == "SCT:19943007"
    assert risk_factor_code("sct:19943007") == "SCT:19943007"


def test_a_condition_coded_twice_gives_both_codes_once() -> None:
    both = condition(ICD10_CM, "K74.60")
    both["code"]["coding"] += [{"system": SNOMED, "code": "19943007"},
                               {"system": ICD10_CM, "code": "K7460"}]

    assert codes(both) == ["K7460", "SCT:19943007"]


# --- alcohol social history ------------------------------------------------------------

@pytest.mark.parametrize("answer", ["160577002", "160578007"])
def test_heavy_drinking_answers_are_alcohol_use_disorder_at_the_effective_time(
        answer: str) -> None:
    [event] = items(alcohol(valueCodeableConcept={"coding": [
        {"system": SNOMED, "code": answer}]}))

    assert isinstance(event, DiagnosisEvent)
    assert (event.diagnosis.code, event.diagnosis.source, event.diagnosis.active) == (
        "alcohol-use-disorder", RiskSource.FHIR, True)
    assert event.recorded_at is not None and event.recorded_at.isoformat() == \
        "2026-08-01T10:00:00+00:00"


@pytest.mark.parametrize("answer", ["219006", "82581004", "105542008"])  # current, ex, non
def test_other_answers_are_no_risk_factor(answer: str) -> None:
    assert items(alcohol(valueCodeableConcept={"coding": [
        {"system": SNOMED, "code": answer}]})) == []


def test_which_answers_count_is_the_policys() -> None:
    mine = Terminology.of([], SocialHistory(alcohol_answers=["LA-EXAMPLE-1", f"{SNOMED}|219006"]))
    current = alcohol(valueCodeableConcept={"coding": [{"system": SNOMED, "code": "219006"}]})
    la = alcohol(valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA-EXAMPLE-1"}]})

    assert codes(current, mine) == codes(la, mine) == ["alcohol-use-disorder"]
    assert codes(current) == []


@pytest.mark.parametrize(("drinks", "counts"), [(5, True), (4.5, True), (4, False), (1, False)])
def test_drinks_per_day_above_the_threshold(drinks: float, counts: bool) -> None:
    resource = alcohol("74013-4", valueQuantity={"value": drinks, "unit": "/d"})

    assert codes(resource) == (["alcohol-use-disorder"] if counts else [])


def test_drinks_per_day_threshold_is_configurable_and_can_be_off() -> None:
    three = alcohol("74013-4", valueQuantity={"value": 3, "unit": "/d"})

    assert codes(three, Terminology.of([], SocialHistory(alcohol_drinks_per_day_above=2))) == [
        "alcohol-use-disorder"]
    never = Terminology.of([], SocialHistory(alcohol_drinks_per_day_above=None))
    assert codes(alcohol("74013-4", valueQuantity={"value": 30}), never) == []
    assert codes(alcohol("74013-4", valueQuantity={"value": 9, "comparator": "<"})) == []


def test_an_entered_in_error_social_history_voids_the_factor() -> None:
    resource = alcohol(valueCodeableConcept={"coding": [{"system": SNOMED, "code": "160578007"}]})
    resource["status"] = "entered-in-error"
    [event] = items(resource)

    assert isinstance(event, DiagnosisEvent)
    assert event.diagnosis.voided == "entered in error (Observation.status)"


def test_a_counting_social_history_without_a_time_is_rejected() -> None:
    resource = alcohol(valueCodeableConcept={"coding": [{"system": SNOMED, "code": "160578007"}]})
    del resource["effectiveDateTime"]
    [event] = items(resource)

    assert isinstance(event, Reject) and "effectiveDateTime" in event.reason


# --- what is not used ------------------------------------------------------------------

def test_an_observation_of_another_test_is_counted_once_per_coding() -> None:
    cbc = alcohol("718-7", valueQuantity={"value": 13})
    cbc["code"]["coding"].append({"system": "urn:lab", "code": "HB"})

    assert items(cbc) == [UnmappedCode(LOINC, "718-7", "r (Observation/sh1)"),
                          UnmappedCode("urn:lab", "HB", "r (Observation/sh1)")]

