"""Format detection and code tables."""

from __future__ import annotations

import pytest

from monitor.ingest import detect_format
from monitor.ingest.codes import is_icd10_system, normalise_icd10


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("a.hl7", "", "hl7"),
        ("a.HL7", "patient_id,x", "hl7"),
        ("a.ndjson", "", "fhir"),
        ("a.json", "", "fhir"),
        ("a.csv", "", "csv"),
        ("feed.txt", "\x0bMSH|^~\\&|LIS", "hl7"),
        ("feed", '\ufeff  {"resourceType": "Bundle"', "fhir"),
        ("feed", "[{}]", "fhir"),
        ("feed.dat", "patient_id,collected_at,sodium\n", "csv"),
    ],
)
def test_detect_format(name: str, head: str, expected: str) -> None:
    assert detect_format(name, head) == expected


def test_undetectable_format() -> None:
    with pytest.raises(ValueError, match="cannot tell"):
        detect_format("notes.txt", "hello")


@pytest.mark.parametrize(
    "system",
    ["I10", "I10C", "ICD10", "ICD-10", "ICD10CM", "icd-10-cm", "ICD10GM",
     "http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm",
     "urn:oid:2.16.840.1.113883.6.90"],
)  # fmt: skip
def test_icd10_systems(system: str) -> None:
    assert is_icd10_system(system)


@pytest.mark.parametrize("system", ["I9", "I10P", "SCT", "http://snomed.info/sct", "ICD10PCS"])
def test_other_systems(system: str) -> None:
    assert not is_icd10_system(system)


def test_normalise_icd10() -> None:
    assert normalise_icd10(" f10.20 ") == "F1020"
