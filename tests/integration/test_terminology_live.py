"""Terminology on the live path (issue 18 item 3), on PostgreSQL through the real FHIR API:
a Condition coded in WHO ICD-10, one in a national ICD-10 system named by
SODIUM_ICD10_SYSTEMS, a SNOMED CT Condition and an alcohol social-history Observation each
make their patient high-risk, so a rise of 7 mmol/L in 24 h is an OVERCORRECTION_24H (the
high-risk limit is 6, the standard one 8); the codes sent and not used are counted per feed
and shown on the admin page and by `sodium-monitor check`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.integration.helpers import alerts
from tests.integration.hospital import Hospital, build
from tests.integration.test_cli_engineer import cli

JP_ICD10 = "http://jpfhir.jp/fhir/core/CodeSystem/JP_ICD10"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RISKS: dict[str, dict[str, Any]] = {  # patient: the resource that makes them high-risk
    "T-WHO": {"resourceType": "Condition", "code": {"coding": [
        {"system": "http://hl7.org/fhir/sid/icd-10", "code": "K74.6"}]}},
    "T-JP": {"resourceType": "Condition", "code": {"coding": [
        {"system": JP_ICD10, "code": "K70.3"}]}},
    "T-SCT": {"resourceType": "Condition", "code": {"coding": [
        {"system": SNOMED, "code": "19943007", "display": "Cirrhosis of liver"}]}},
    "T-ALC": {"resourceType": "Observation", "status": "final",
              "category": [{"coding": [{"code": "social-history"}]}],
              "code": {"coding": [{"system": LOINC, "code": "11331-6"}]},
              "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "160578007"}]}},
}
C24 = "OVERCORRECTION_24H"


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated, icd10_systems=(JP_ICD10,))
    yield made
    made.close()


def subject(patient: str) -> dict[str, Any]:
    return {"identifier": {"system": "urn:mrn", "value": patient}}


def sodium(patient: str, n: int, at: datetime, value: float) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": f"{patient}-{n}", "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "2951-2"}]},
            "subject": subject(patient), "effectiveDateTime": at.isoformat(),
            "valueQuantity": {"value": value, "unit": "mmol/L",
                              "system": "http://unitsofmeasure.org", "code": "mmol/L"}}


def post(http: TestClient, resource: dict[str, Any]) -> None:
    reply = http.post(f"/fhir/{resource['resourceType']}", content=json.dumps(resource))
    assert reply.status_code == 201, reply.text


def test_each_terminology_makes_the_patient_high_risk_and_unused_codes_are_shown(
        h: Hospital, pg_engine: Engine, pg_migrated: str) -> None:
    http = h.bearer("feed")
    http.headers["Content-Type"] = "application/fhir+json"
    start = h.now - timedelta(hours=20)
    for patient in [*RISKS, "T-NONE"]:
        if patient in RISKS:
            risk = {**RISKS[patient], "id": f"{patient}-risk", "subject": subject(patient)}
            if risk["resourceType"] == "Condition":
                risk["clinicalStatus"] = {"coding": [{"code": "active"}]}
            else:
                risk["effectiveDateTime"] = (start - timedelta(days=30)).isoformat()
            post(http, risk)
        post(http, sodium(patient, 0, start, 120))
        post(http, sodium(patient, 1, start + timedelta(hours=19), 127))  # +7 in 19 h
    # What the feed sends and nobody uses: a haemoglobin, a diagnosis no risk factor maps,
    # a Condition coded only locally.
    haemoglobin = {**sodium("T-NONE", 2, start, 13.1),
                   "code": {"coding": [{"system": LOINC, "code": "718-7"}]}}
    haemoglobin["valueQuantity"] = {"value": 13.1, "unit": "g/dL"}
    post(http, haemoglobin)
    post(http, haemoglobin | {"id": "T-NONE-3"})
    post(http, {"resourceType": "Condition", "id": "T-NONE-htn", "subject": subject("T-NONE"),
                "clinicalStatus": {"coding": [{"code": "active"}]},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                     "code": "I10"}]}})
    post(http, {"resourceType": "Condition", "id": "T-NONE-loc", "subject": subject("T-NONE"),
                "code": {"coding": [{"system": "urn:hospital:dx", "code": "LIV-9"}]}})

    raised = {a["patient_id"] for a in alerts(pg_engine)
              if a["rule"] == C24 and a["patient_id"].startswith("T-")}
    assert raised == set(RISKS)  # T-NONE's +7 is within the standard limit

    page = h.signed_in("root").get("/admin")
    assert page.status_code == 200
    table = page.text.split('data-testid="unmapped"', 1)[1].split("</table>", 1)[0]
    rows = [[cell.split(">", 1)[1] for cell in row.split("</td>")[:4]]
            for row in table.split("<tr>")[2:]]
    assert sorted(rows) == sorted([
        ["fhir:lis", LOINC, "718-7", "2"],
        ["fhir:lis", "ICD-10", "I10", "1"],
        ["fhir:lis", "urn:hospital:dx", "LIV-9", "1"]])

    report = json.loads(cli(pg_migrated, "check", "--json").stdout)
    codes = next(c for c in report["checks"] if c["name"] == "codes")
    assert codes["status"] == "OK"
    assert codes["detail"] == ("not used: fhir:lis http://loinc.org|718-7 x2; "
                               "fhir:lis ICD-10|I10 x1; fhir:lis urn:hospital:dx|LIV-9 x1")


def test_a_code_not_used_that_postgresql_cannot_store_never_fails_its_payload(
        h: Hospital, pg_engine: Engine) -> None:
    """A NUL byte or an overlong system in an unfollowed code: the Bundle's sodium is stored
    and its alert raised, the code counted as it can be stored."""
    http = h.bearer("feed")
    http.headers["Content-Type"] = "application/fhir+json"
    start = h.now - timedelta(hours=20)
    junk = {**sodium("T-NUL", 9, start, 5.0),
            "code": {"coding": [{"system": "urn:lab:" + "x" * 300, "code": "HB\u0000A"}]}}
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": r, "request": {"method": "POST", "url": "Observation"}}
        for r in (junk, sodium("T-NUL", 0, start, 115))]}
    reply = http.post("/fhir", content=json.dumps(bundle))
    assert reply.status_code == 200, reply.text
    assert "SEVERE_HYPONATREMIA" in {a["rule"] for a in alerts(pg_engine)
                                     if a["patient_id"] == "T-NUL"}
    page = h.signed_in("root").get("/admin").text
    table = page.split('data-testid="unmapped"', 1)[1].split("</table>", 1)[0]
    assert "HBA" in table and "urn:lab:xxx" in table
