"""Poison at intake on PostgreSQL: what the database cannot store (a value longer than its
column, a NUL byte) is refused with AE or a 4xx and a reject row, never acknowledged and
then failed in the worker; the patient's next good result is processed and alerts."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.runtime import Runtime
from monitor.runtime.drain import run_inbox
from monitor.services.intake.hl7 import receive_hl7
from monitor.storage.tables import InboxItem, RejectRow
from monitor.web.body import MAX_HL7_BYTES, MAX_RESULTS_BYTES
from tests.hl7_builders import oru
from tests.integration.helpers import alerts, all_processed, feed_client, inbox_states
from tests.integration.stack import ack_code, wait_for

START = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
MRN = "LIM001"
C24 = "OVERCORRECTION_24H"


def bad(order: str, **more: Any) -> str:
    return oru(MRN, order, START + timedelta(hours=5), more.pop("value", 128), **more)


HL7_POISON: dict[str, tuple[Callable[[], str], str]] = {
    "bed of 60": (lambda: bad("BAD-1").replace("^0412^01^", "^0412^" + "B" * 60 + "^"),
                  "PV1-3.3 bed is 60 characters; at most 50 are stored"),
    "PID-3 of 150": (lambda: oru("P" * 150, "BAD-2", START + timedelta(hours=5), 128),
                     "PID-3.1 patient id is 150 characters; at most 100 are stored"),
    "OBR-3 of 400": (lambda: bad("O" * 400, control_id="CTRL-LONG-OBR"),
                     "OBR-3/OBX-3/OBX-4 result id is 408 characters; at most 300 are stored"),
    "ward of 70": (lambda: bad("BAD-4", ward="W" * 70),
                   "PV1-3.1 ward is 70 characters; at most 64 are stored"),
    "NUL in MSH-10": (lambda: bad("BAD-5", control_id="CTRL\x00NUL"),
                      "MSH-10 message control id contains a NUL byte"),
    "NUL in OBX-5 of a removal": (lambda: bad("BAD-6", value="128\x00", status="D"),
                                  "OBX-5 value contains a NUL byte, which cannot be stored"),
    "NUL in a numeric OBX-5": (lambda: bad("BAD-7", value="12\x008"), "is not a number"),
}


def hl7(rt: Runtime, message: str) -> tuple[str, int | None]:
    reply = receive_hl7(rt.uow(), message, "hl7:LIS", rt.pipeline, datetime.now(UTC))
    if reply.inbox_id is not None:
        assert run_inbox(rt, reply.inbox_id) == "processed"
    return ack_code(reply.ack)[0], reply.inbox_id


def reject_rows(engine: Engine) -> list[RejectRow]:
    with Session(engine) as s:
        rows = list(s.scalars(select(RejectRow).order_by(RejectRow.id)))
        s.expunge_all()
        return rows


def active_rules(engine: Engine, patient: str) -> set[str]:
    return {a["rule"] for a in alerts(engine, "active") if a["patient_id"] == patient}


@pytest.mark.integration
@pytest.mark.parametrize("case", list(HL7_POISON))
def test_unstorable_hl7_is_refused_and_the_patient_goes_on(
        case: str, rt: Runtime, pg_engine: Engine) -> None:
    message, reason = HL7_POISON[case]
    assert hl7(rt, oru(MRN, "GOOD-1", START, 120)) == ("AA", 1)

    code, inbox_id = hl7(rt, message())
    assert (code, inbox_id) == ("AE", None)
    rows = reject_rows(pg_engine)
    assert len(rows) == 1 and reason in rows[0].reason, [r.reason for r in rows]
    assert rows[0].inbox_id is None and "MSH" in rows[0].payload
    assert inbox_states(pg_engine) == {"done": 1}  # nothing left pending for it

    code, inbox_id = hl7(rt, oru(MRN, "GOOD-2", START + timedelta(hours=10), 132))
    assert code == "AA" and inbox_id is not None
    assert inbox_states(pg_engine) == {"done": 2}
    assert C24 in active_rules(pg_engine, MRN)


@pytest.mark.integration
def test_one_unstorable_result_is_refused_and_the_rest_of_the_message_kept(
        rt: Runtime, pg_engine: Engine) -> None:
    good = oru(MRN, "MIX-1", START, 120, control_id="CTRL-MIX")
    obx = good.split("\r")[-1]
    # A second order whose filler order number is longer than the result key can hold.
    segments = [*good.split("\r"), f"ORC|RE|ORDX|{'O' * 400}||CM",
                f"OBR|2|ORDX|{'O' * 400}|80048^BMP^C4", obx.replace("||120|", "||121|")]
    code, inbox_id = hl7(rt, "\r".join(segments))
    assert code == "AA" and inbox_id is not None
    [row] = reject_rows(pg_engine)
    assert row.inbox_id == inbox_id and "at most 300 are stored" in row.reason
    assert inbox_states(pg_engine) == {"done": 1}


def observation(patient: str, n: int, hours: int, value: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": f"obs-{n}", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2951-2"}]},
        "subject": {"identifier": {"system": "urn:mrn", "value": patient}},
        "effectiveDateTime": (START + timedelta(hours=hours)).isoformat(),
        "valueQuantity": {"value": value, "unit": "mmol/L", "code": "mmol/L"},
    }


@pytest.mark.integration
def test_a_fhir_subject_id_of_150_is_refused_with_422(rt: Runtime, pg_engine: Engine) -> None:
    with feed_client(rt) as http:
        post = lambda body: http.post(  # noqa: E731
            "/fhir/Observation", content=json.dumps(body),
            headers={"Content-Type": "application/fhir+json"})
        assert post(observation(MRN, 1, 0, 120)).status_code == 201
        refused = post(observation("P" * 150, 2, 5, 128))
        assert refused.status_code == 422, refused.text
        [issue] = refused.json()["issue"]
        assert issue["diagnostics"] == (
            "subject identifier is 150 characters; at most 100 are stored")
        assert post(observation(MRN, 3, 10, 132)).status_code == 201
        wait_for(lambda: all_processed(pg_engine, 2), 60, "the good observations")
    [row] = reject_rows(pg_engine)
    assert "subject identifier is 150" in row.reason and row.source == "fhir:LIS"
    assert C24 in active_rules(pg_engine, MRN)


@pytest.mark.integration
def test_json_results_that_cannot_be_stored_get_422(rt: Runtime, pg_engine: Engine) -> None:
    def row(patient: str, hours: int, sodium: object, **more: str) -> dict[str, object]:
        return {"patient_id": patient, "sodium": sodium, "result_id": f"J{hours}",
                "collected_at": (START + timedelta(hours=hours)).isoformat(), **more}

    with feed_client(rt) as http:
        assert http.post("/api/v1/results", json=[row(MRN, 0, 120)]).status_code == 202
        refused = http.post("/api/v1/results", json=[
            row("P" * 150, 5, 128), row(MRN, 6, 128, specimen="serum\x00")])
        assert refused.status_code == 422, refused.text
        assert [r["reason"] for r in refused.json()["rejected"]] == [
            "patient_id is 150 characters; at most 100 are stored",
            "specimen contains a NUL byte, which cannot be stored"]
        assert http.post("/api/v1/results", json=[row(MRN, 10, 132)]).status_code == 202
        wait_for(lambda: all_processed(pg_engine, 2), 60, "the good results")
    assert len(reject_rows(pg_engine)) == 1
    with Session(pg_engine) as s:
        assert len(list(s.scalars(select(InboxItem)))) == 2
    assert C24 in active_rules(pg_engine, MRN)


@pytest.mark.integration
def test_bodies_over_their_cap_get_413_and_a_reject_row(rt: Runtime, pg_engine: Engine) -> None:
    padding = "x" * (MAX_RESULTS_BYTES + 1)
    big_json = json.dumps([{"patient_id": MRN, "sodium": 130, "note": padding}])
    big_hl7 = oru(MRN, "BIG-1", START, 130, control_id="CTRL-BIG") + "\rNTE|1||" + "x" * (
        MAX_HL7_BYTES + 1)
    with feed_client(rt) as http:
        json_reply = http.post("/api/v1/results", content=big_json,
                               headers={"Content-Type": "application/json"})
        hl7_reply = http.post("/api/v1/hl7", content=big_hl7)
        fhir_reply = http.post("/fhir/Observation", content=big_json,
                               headers={"Content-Type": "application/fhir+json"})
    assert json_reply.status_code == 413
    assert json_reply.json() == {"detail": "the body exceeds the 1 MiB limit (1048576 bytes)",
                                 "limit_bytes": MAX_RESULTS_BYTES}
    assert hl7_reply.status_code == 413 and ack_code(hl7_reply.text) == ("AR", "CTRL-BIG")
    assert fhir_reply.status_code == 413
    assert fhir_reply.json()["issue"][0]["code"] == "too-long"
    rows = reject_rows(pg_engine)
    assert [(r.source, r.reason.split(" (")[0]) for r in rows] == [
        ("json:LIS", "the body exceeds the 1 MiB limit"),
        ("hl7:LIS", "the body exceeds the 1 MiB limit"),
        ("fhir:LIS", "the body exceeds the 1 MiB limit")]
    assert rows[1].payload.startswith("MSH|") and len(rows[1].payload) <= 1024
    assert inbox_states(pg_engine) == {}
