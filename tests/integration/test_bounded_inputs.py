"""Trust at the edges (issue 13, findings 6 and 7) on PostgreSQL: every ingest body is capped
at 1 MiB and 500 results, every refusal is a 4xx (or AE/AR) with a reject row, and bad REST
input gets its 4xx, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from monitor.runtime import Runtime
from monitor.web.body import HEAD_KEPT
from tests.hl7_builders import oru
from tests.integration.helpers import feed_client, inbox_states
from tests.integration.hospital import Hospital, build
from tests.integration.stack import MllpConnection, ack_code, stack
from tests.integration.test_intake_limits import reject_rows

START = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
FHIR = {"Content-Type": "application/fhir+json"}


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    yield made
    made.close()


def observation(mrn: str = "B001", value: float = 130) -> dict[str, object]:
    return {"resourceType": "Observation", "id": "obs-1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2951-2"}]},
            "subject": {"identifier": {"system": "urn:mrn", "value": mrn}},
            "effectiveDateTime": START.isoformat(),
            "valueQuantity": {"value": value, "unit": "mmol/L"}}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.integration
def test_a_3_mib_hl7_post_is_refused_with_ar_and_its_first_kib_kept(
        rt: Runtime, pg_engine: Engine) -> None:
    message = oru("B001", "BIG-3", START, 130, control_id="CTRL-3MIB") + "\rNTE|1||" + (
        "x" * (3 << 20))
    with feed_client(rt) as http:
        reply = http.post("/api/v1/hl7", content=message)
    assert reply.status_code == 413 and ack_code(reply.text) == ("AR", "CTRL-3MIB")
    [row] = reject_rows(pg_engine)
    assert row.reason == "the body exceeds the 1 MiB limit (1048576 bytes)"
    assert row.payload == message[:HEAD_KEPT]
    assert inbox_states(pg_engine) == {}


@pytest.mark.integration
@pytest.mark.parametrize("path", ["/fhir", "/fhir/Observation", "/fhir/Condition",
                                  "/fhir/Observation/obs-1", "/api/v1/results"])
def test_a_large_body_gets_413_on_every_json_endpoint_without_being_stored(
        path: str, rt: Runtime, pg_engine: Engine) -> None:
    body = json.dumps({**observation(), "note": [{"text": "y" * (2 << 20)}]})
    with feed_client(rt) as http:
        method = http.put if path.endswith("obs-1") else http.post
        reply = method(path, content=body, headers=FHIR)
    assert reply.status_code == 413, reply.text
    [row] = reject_rows(pg_engine)
    assert row.reason.startswith("the body exceeds the 1 MiB limit")
    assert row.payload == body[:HEAD_KEPT]
    assert inbox_states(pg_engine) == {}


@pytest.mark.integration
def test_14000_obx_get_ae_and_a_reject_row_at_intake(rt: Runtime, pg_engine: Engine) -> None:
    one = oru("B002", "MANY", START, 130, control_id="CTRL-MANY").split("\r")
    message = "\r".join(one[:-1] + [f"OBX|{n}|NM|2951-2^Sodium^LN||130|mmol/L|||||F"
                                    for n in range(1, 14001)])
    assert len(message) < 1 << 20
    with feed_client(rt) as http:
        reply = http.post("/api/v1/hl7", content=message)
    assert reply.status_code == 200
    assert ack_code(reply.text) == ("AE", "CTRL-MANY")
    assert "14000 OBX segments in one message; at most 500" in reply.text
    [row] = reject_rows(pg_engine)
    assert row.reason.startswith("14000 OBX segments in one message; at most 500 are taken")
    assert inbox_states(pg_engine) == {}  # never reached the workers


@pytest.mark.integration
def test_too_many_bundle_entries_or_json_rows_get_422_and_a_reject_row(
        rt: Runtime, pg_engine: Engine) -> None:
    entries = [{"resource": observation(value=130 + n % 5)} for n in range(501)]
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": entries}
    rows = [{"patient_id": "B003", "collected_at": START.isoformat(), "sodium": 130}] * 501
    with feed_client(rt) as http:
        fhir = http.post("/fhir", json=bundle, headers=FHIR)
        results = http.post("/api/v1/results", json=rows)
    assert fhir.status_code == 422
    assert fhir.json()["issue"][0]["code"] == "too-costly"
    assert results.status_code == 422
    assert results.json()["detail"].startswith("501 rows in one message; at most 500")
    assert [r.reason.split(";")[0] for r in reject_rows(pg_engine)] == [
        "501 Bundle entries in one message", "501 rows in one message"]
    assert inbox_states(pg_engine) == {}


REFUSED_FHIR = {
    "a JSON array": ("POST", "/fhir/Observation", json.dumps([observation()]), 400,
                     "expected Observation, got 'a JSON list'"),
    "a JSON string": ("POST", "/fhir/Observation", '"Observation"', 400,
                      "expected Observation, got 'a JSON str'"),
    "wrong resourceType": ("POST", "/fhir/Condition", json.dumps(observation()), 400,
                           "expected Condition, got 'Observation'"),
    "PUT id mismatch": ("PUT", "/fhir/Observation/other", json.dumps(observation()), 400,
                        "the body's id 'obs-1' differs from the URL's 'other'"),
    "malformed JSON": ("POST", "/fhir/Observation", '{"resourceType": ', 400, "not JSON: "),
    "deep nesting": ("POST", "/fhir", nested(5000), 400, "nested deeper than 64 levels"),
    "nesting past 64": ("POST", "/fhir", nested(65), 400, "nested deeper than 64 levels"),
    "Bundle.entry: 5": ("POST", "/fhir", '{"resourceType": "Bundle", "type": "batch", '
                        '"entry": 5}', 400, "Bundle.entry is not a list"),
}


@pytest.mark.integration
@pytest.mark.parametrize("case", list(REFUSED_FHIR))
def test_every_refused_fhir_body_gets_its_4xx_and_a_reject_row(
        case: str, rt: Runtime, pg_engine: Engine) -> None:
    method, path, body, status, reason = REFUSED_FHIR[case]
    with feed_client(rt) as http:
        reply = http.request(method, path, content=body, headers=FHIR)
    assert reply.status_code == status, reply.text
    issue = reply.json()["issue"][0]
    assert reply.json()["resourceType"] == "OperationOutcome"
    assert issue["diagnostics"].startswith(reason)
    [row] = reject_rows(pg_engine)
    assert row.source == "fhir:LIS" and row.reason.startswith(reason)
    assert row.payload == body
    assert inbox_states(pg_engine) == {}


@pytest.mark.integration
def test_deep_json_results_get_400_and_a_reject_row(rt: Runtime, pg_engine: Engine) -> None:
    with feed_client(rt) as http:
        reply = http.post("/api/v1/results", content=nested(5000),
                          headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    assert reply.json() == {"detail": "nested deeper than 64 levels"}
    assert [r.reason for r in reject_rows(pg_engine)] == ["nested deeper than 64 levels"]


@pytest.mark.integration
def test_bad_rest_input_gets_its_4xx_never_a_500(h: Hospital) -> None:
    big = 2**31
    admin, nurse = h.bearer("root"), h.bearer("nurse.a")
    with admin, nurse:
        for path in (f"/api/v1/patients/{big}", f"/api/v1/patients/{big}/results",
                     f"/api/v1/patients/{big}/risk-factors", "/api/v1/patients/-1",
                     "/api/v1/patients/0", f"/api/v1/patients/{2**70}"):
            reply = admin.get(path)
            assert (reply.status_code, reply.json()) == (404, {"detail": "no such patient"})
        for path in (f"/api/v1/alerts/{big}/acknowledge", "/api/v1/alerts/-5/resolve"):
            reply = admin.post(path, json={"note": "x"})
            assert (reply.status_code, reply.json()) == (404, {"detail": "no such alert"})
        reply = admin.post(f"/api/v1/rejects/{big}/retry")
        assert (reply.status_code, reply.json()) == (404, {"detail": "no such reject"})
        reply = admin.request("DELETE", f"/api/v1/patients/{h.patients['A1']}/risk-factors/"
                              f"{big}", json={"reason": "x"})
        assert (reply.status_code, reply.json()) == (404, {"detail": "no such risk factor"})
        assert admin.get(f"/api/v1/alerts?patient_id={big}").json() == []
        for path in ("/api/v1/audit?limit=-1", "/api/v1/rejects?limit=-1",
                     "/api/v1/rejects?limit=0", "/api/v1/audit?limit=x"):
            assert admin.get(path).status_code == 422, path
        for path in ("/api/v1/audit?actor=%00", "/api/v1/patients?ward=a%00b",
                     "/api/v1/alerts?state=%00", "/api/v1/patients/%00"):
            reply = admin.get(path)
            assert (reply.status_code, reply.json()) == (
                400, {"detail": "the URL contains a NUL byte (%00)"}), path
        assert nurse.get(f"/api/v1/patients/{big}").status_code == 404
        assert admin.get("/api/v1/audit?limit=5").status_code == 200


@pytest.mark.integration
def test_14000_obx_over_mllp_get_ae_from_the_listener(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path) -> None:
    one = oru("B004", "MLLP-MANY", START, 130, control_id="CTRL-MLLP-MANY").split("\r")
    message = "\r".join(one[:-1] + [f"OBX|{n}|NM|2951-2^Sodium^LN||130|mmol/L|||||F"
                                    for n in range(1, 14001)])
    with stack(pg_migrated, redis_url, tmp_path) as s:
        connection = MllpConnection(s.mllp())
        try:
            reply = connection.send(message)
        finally:
            connection.close()
    assert ack_code(reply) == ("AE", "CTRL-MLLP-MANY")
    [row] = reject_rows(pg_engine)
    assert row.reason.startswith("14000 OBX segments in one message; at most 500 are taken")
    assert inbox_states(pg_engine) == {}


@pytest.mark.integration
def test_the_dashboard_pages_answer_404_to_ids_no_row_can_have(h: Hospital) -> None:
    big = 2**31
    with h.bearer("root") as admin:
        assert admin.get(f"/patients/{big}").status_code == 404
        assert admin.get("/patients/-3").status_code == 404
        for path in (f"/alerts/{big}/ack", f"/alerts/{big}/resolve",
                     f"/admin/rejects/{big}/retry"):
            assert admin.post(path, data={"csrf": "", "note": "x"}).status_code == 404, path


@pytest.mark.integration
def test_a_3_mib_frame_over_mllp_gets_ar_and_a_reject_row(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path) -> None:
    message = oru("B005", "MLLP-BIG", START, 130, control_id="CTRL-MLLP-BIG") + (
        "\rNTE|1||" + "x" * (3 << 20))
    with stack(pg_migrated, redis_url, tmp_path) as s:
        connection = MllpConnection(s.mllp())
        try:
            reply = connection.send(message)
        finally:
            connection.close()
    assert ack_code(reply) == ("AR", "CTRL-MLLP-BIG")
    [row] = reject_rows(pg_engine)
    assert row.reason == "message exceeds the 1 MiB limit"
    assert message.startswith(row.payload) and len(row.payload) <= 4096
    assert inbox_states(pg_engine) == {}
