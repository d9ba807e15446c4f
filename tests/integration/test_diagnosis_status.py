"""Diagnosis status over time on PostgreSQL (issue 18 item 2), in the shapes an EHR sends:
the admission's cirrhosis resolved at discharge (category encounter-diagnosis, an
abatement date) keeps the high-risk limit its rise was judged by, live (a PUT after the
results) and in replay (an export that holds only the resolved Condition); a Condition
updated to entered-in-error withdraws the alert it carried, saying so; an HL7 DG1 deleted
(DG1-21 D) does the same."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from monitor.engine.policy import load_policy
from monitor.runtime import Runtime
from monitor.runtime.drain import run_inbox
from monitor.services.intake.hl7 import receive_hl7
from monitor.services.replay import run
from monitor.storage.tables import RiskFactor
from tests import fhir_cohort as cohort
from tests.hl7_builders import oru
from tests.integration.helpers import alerts
from tests.integration.hospital import build
from tests.integration.test_fhir_identity import fhir_client, post

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
PID, MRN = "pt-2", "MRN-1002"
# 120 -> 127 in 20 h: over the high-risk 24 h limit (6), within the standard one (8).
SODIUM = [("2026-03-04T08:00:00+01:00", 120), ("2026-03-04T18:00:00+01:00", 124),
          ("2026-03-05T04:00:00+01:00", 127)]


def observations() -> list[dict[str, Any]]:
    return [{"resourceType": "Observation", "id": f"{PID}-na-{n}", "status": "final",
             "code": {"coding": [{"system": cohort.LOINC, "code": "2951-2"}]},
             "subject": {"reference": f"Patient/{PID}"}, "effectiveDateTime": when,
             "valueQuantity": {"value": value, "unit": "mmol/L"}}
            for n, (when, value) in enumerate(SODIUM)]


def condition(status: str = "active", verification: str = "confirmed",
              abated: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition", "id": "pt-2-dx",
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": status}]},
        "verificationStatus": {"coding": [{"system": VERIFICATION, "code": verification}]},
        "category": [{"coding": [{"system": CATEGORY, "code": "encounter-diagnosis"}]}],
        "code": {"coding": [{"system": cohort.ICD10_CM, "code": "K70.30"}]},
        "subject": {"reference": f"Patient/{PID}"},
        "onsetDateTime": "2019-05-01", "recordedDate": "2026-03-04"}
    if abated:
        resource["abatementDateTime"] = abated
    return resource


def overcorrection(engine: Engine) -> dict[str, Any]:
    found = [a for a in alerts(engine) if a["rule"] == "OVERCORRECTION_24H"]
    assert len(found) == 1, found
    return found[0]


def test_live_a_cirrhosis_resolved_at_discharge_keeps_the_alert(rt: Runtime,
                                                                pg_engine: Engine) -> None:
    http = fhir_client(rt)
    assert post(rt, http, "/fhir/Patient", cohort.patient(PID)) == 201
    assert post(rt, http, "/fhir/Condition", condition()) == 201
    for obs in observations():
        assert post(rt, http, "/fhir/Observation", obs) == 201
    assert overcorrection(pg_engine)["state"] == "active"

    resolved = condition("resolved", abated="2026-03-07T11:00:00+01:00")
    reply = http.put("/fhir/Condition/pt-2-dx", content=json.dumps(resolved))
    rt.dispatcher.drain()  # type: ignore[attr-defined]
    assert reply.status_code == 200, reply.text
    alert = overcorrection(pg_engine)
    assert alert["state"] == "active" and "liver-disease" in alert["risk_factors"]
    with pg_engine.connect() as c:
        row = c.execute(select(RiskFactor)).one()
        assert (row.active, row.encounter, row.voided) == (False, True, None)
        assert row.abated_at is not None and row.onset_at is not None

    # The same patient and results replayed from the export, which holds only the
    # resolved Condition: the same alert, still active.
    export = [cohort.patient(PID), resolved, *observations()]
    out = run.replay([("export.ndjson", "\n".join(json.dumps(r) for r in export))], "auto",
                     ZoneInfo("UTC"), load_policy("default"))
    assert [(a["patient_id"], a["rule"], a["state"]) for a in out.alerts
            if a["rule"] == "OVERCORRECTION_24H"] == [(MRN, "OVERCORRECTION_24H", "active")]

    refuted = condition("resolved", "entered-in-error")
    assert post(rt, http, "/fhir/Condition", refuted) == 201
    alert = overcorrection(pg_engine)
    assert alert["state"] == "withdrawn"
    assert alert["withdrawn_reason"] == (
        "diagnosis K70.30 entered in error (verificationStatus): the rise is within the "
        "limit without it")


def test_a_problem_list_cirrhosis_abated_before_the_rise_withdraws_it_with_the_date(
        rt: Runtime, pg_engine: Engine) -> None:
    http = fhir_client(rt)
    listed = condition()
    listed["category"] = [{"coding": [{"system": CATEGORY, "code": "problem-list-item"}]}]
    assert post(rt, http, "/fhir/Patient", cohort.patient(PID)) == 201
    assert post(rt, http, "/fhir/Condition", listed) == 201
    for obs in observations():
        assert post(rt, http, "/fhir/Observation", obs) == 201
    assert overcorrection(pg_engine)["state"] == "active"

    listed.update(clinicalStatus={"coding": [{"system": CLINICAL, "code": "resolved"}]},
                  abatementDateTime="2026-03-04T12:00:00+01:00")
    assert post(rt, http, "/fhir/Condition", listed) == 201
    alert = overcorrection(pg_engine)
    assert alert["state"] == "withdrawn"
    assert alert["withdrawn_reason"] == ("diagnosis K70.30 resolved on 2026-03-04: the rise "
                                         "is within the limit without it")


def hl7(rt: Runtime, message: str) -> None:
    reply = receive_hl7(rt.uow(), message, "hl7:adt", rt.pipeline, datetime.now(UTC))
    assert reply.inbox_id is not None and run_inbox(rt, reply.inbox_id) == "processed"


def test_hl7_dg1_deleted_withdraws_the_alert_saying_so(rt: Runtime, pg_engine: Engine) -> None:
    adt = ("MSH|^~\\&|ADT|CITYGEN|SODMON|CITYGEN|20260304070000||ADT^A08|{id}|P|2.5\r"
           "PID|1||MRN-1002^^^CITYGEN^MR\rPV1|1|I|MED4^12^1\r"
           "DG1|1||K70.30^Alcoholic cirrhosis^I10||20260304|W{action}")
    hl7(rt, adt.format(id="A1", action=""))
    for n, (when, value) in enumerate(SODIUM):
        hl7(rt, oru("MRN-1002", f"NA{n}", datetime.fromisoformat(when), value))
    assert overcorrection(pg_engine)["state"] == "active"

    hl7(rt, adt.format(id="A2", action="|" * 15 + "D"))
    alert = overcorrection(pg_engine)
    assert alert["state"] == "withdrawn"
    assert alert["withdrawn_reason"] == (
        "diagnosis K70.30 deleted by the sender (DG1-21 D): the rise is within the limit "
        "without it")


def test_the_patient_page_shows_when_each_diagnosis_counts(pg_engine: Engine,
                                                           pg_migrated: str) -> None:
    h = build(pg_migrated)
    try:
        feed = h.bearer("feed")
        feed.headers["Content-Type"] = "application/fhir+json"

        def send(resource: dict[str, Any]) -> None:
            reply = feed.post("/fhir/Condition", content=json.dumps(resource))  # inline
            assert reply.status_code == 201, reply.text

        a3 = {"identifier": {"system": "CITYGEN", "value": "A3"}}
        send({**condition("resolved", abated="2026-03-07T11:00:00+01:00"), "subject": a3})
        alcohol = {**condition(), "id": "a3-f10", "subject": a3,
                   "code": {"coding": [{"system": cohort.ICD10_CM, "code": "F10.20"}]}}
        send(alcohol)
        send({**alcohol, "verificationStatus": {"coding": [
            {"system": VERIFICATION, "code": "entered-in-error"}]}})
        page = h.signed_in("dr.a").get(f"/patients/{h.patients['A3']}").text
    finally:
        h.close()
    section = page.split('data-testid="risk-factors"')[1].split("</section>")[0]
    words = " ".join(re.sub(r"<[^>]+>", " ", section).split())
    assert ("liver disease (K70.30) (FHIR) since 2019-05-01; resolved at discharge, still "
            "counts (a chronic condition)") in words
    assert ("alcohol use disorder (F10.20) (FHIR: entered in error (verificationStatus): "
            "never counts)") in words
    assert "<del>alcohol use disorder (F10.20)</del>" in section
