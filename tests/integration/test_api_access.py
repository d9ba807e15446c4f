"""The JSON API under /api/v1: who may call which route, ward scoping, CSRF, audit.

Real PostgreSQL, the real app through FastAPI's TestClient; the hospital (two wards, their
people, patients loaded through HL7) is described in tests/integration/hospital.py."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine

from tests.integration.hospital import C24, Hospital, build, fill, hidden_csrf

Body = dict[str, Any] | None
NOTE: Body = {"note": "seen"}
SHELF: Body = {"reason": "dr.ali aware, repeat sodium at noon", "minutes": 60}
RISK: Body = {"factor": "F10", "reason": "alcohol use documented"}
REASON: Body = {"reason": "entered in error"}

READS = [
    "/api/v1/patients", "/api/v1/patients/{p}", "/api/v1/patients/{p}/results",
    "/api/v1/alerts", "/api/v1/patients/{p}/risk-factors", "/api/v1/wards", "/api/v1/rosters",
]
ADMIN_READS = ["/api/v1/users", "/api/v1/feeds", "/api/v1/rejects", "/api/v1/audit"]
ALERT_WRITES: list[tuple[str, str, Body]] = [
    ("POST", "/api/v1/alerts/{a}/acknowledge", NOTE),
    ("POST", "/api/v1/alerts/{a}/shelve", SHELF),
    ("POST", "/api/v1/alerts/{a}/resolve", NOTE),
]
CLINICAL_WRITES: list[tuple[str, str, Body]] = [
    ("POST", "/api/v1/patients/{p}/risk-factors", RISK),
    ("DELETE", "/api/v1/patients/{p}/risk-factors/{r}", REASON),
    ("POST", "/api/v1/patients/{p}/acute", None),  # body added by acute()
    ("POST", "/api/v1/patients/{p}/severe-symptoms", REASON),
]
ADMIN_WRITES: list[tuple[str, str, Body]] = [("POST", "/api/v1/rejects/{j}/retry", None)]
ROUTES = ([("GET", p, None) for p in READS + ADMIN_READS] + ALERT_WRITES + CLINICAL_WRITES
          + ADMIN_WRITES)


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    yield made
    made.close()


def call(c: TestClient, h: Hospital, method: str, path: str, body: Body,
         patient: str = "A1", **headers: str) -> Response:
    if path.endswith("/acute"):
        body = {"onset": (h.now - timedelta(hours=20)).isoformat(), "reason": "onset < 48 h"}
    reply: Response = c.request(method, fill(path, h, patient), json=body, headers=headers)
    return reply


def statuses(c: TestClient, h: Hospital, routes: Sequence[tuple[str, str, Body]],
             patient: str = "A1") -> dict[str, int]:
    return {f"{m} {p}": call(c, h, m, p, b, patient).status_code for m, p, b in routes}


def only(code: int, got: dict[str, int]) -> dict[str, int]:
    """The routes that did not answer `code` (expected: none)."""
    return {route: status for route, status in got.items() if status != code}


def alert_ids(c: TestClient) -> set[int]:
    reply = c.get("/api/v1/alerts")
    assert reply.status_code == 200
    return {int(a["alert_id"]) for a in reply.json()}


def test_anonymous_callers_get_401_on_every_api_route(h: Hospital) -> None:
    c = h.client()
    assert only(401, statuses(c, h, ROUTES)) == {}
    assert c.get("/api/v1/alerts").headers["www-authenticate"] == "Bearer"
    assert c.get("/api/v1/alerts", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_feed_token_gets_403_on_every_dashboard_route(h: Hospital) -> None:
    assert only(403, statuses(h.bearer("feed"), h, ROUTES)) == {}


def test_a_nurse_views_acknowledges_and_shelves_but_may_not_resolve_edit_or_administer(
        h: Hospital) -> None:
    nurse = h.bearer("nurse.a")
    assert only(200, statuses(nurse, h, [("GET", p, None) for p in READS])) == {}
    assert {p["identifier"] for p in nurse.get("/api/v1/patients").json()} == {"A1", "A2", "A3"}
    assert [w["code"] for w in nurse.get("/api/v1/wards").json()] == ["MED4"]

    acked = call(nurse, h, *ALERT_WRITES[0])
    assert acked.status_code == 200, acked.text
    assert (acked.json()["lifecycle"], acked.json()["acknowledged_by"]) == ("acknowledged",
                                                                           "nurse.a")
    shelved = call(nurse, h, *ALERT_WRITES[1], patient="A2")
    assert (shelved.status_code, shelved.json()["lifecycle"]) == (200, "shelved")

    refused = ALERT_WRITES[2:] + CLINICAL_WRITES + ADMIN_WRITES
    assert only(403, statuses(nurse, h, refused)) == {}
    assert only(403, statuses(nurse, h, [("GET", p, None) for p in ADMIN_READS])) == {}


def test_a_ward_physician_resolves_and_a_risk_factor_re_evaluates_the_patient(
        h: Hospital) -> None:
    dr = h.bearer("dr.a")
    resolved = call(dr, h, *ALERT_WRITES[2])
    assert (resolved.status_code, resolved.json()["state"]) == (200, "resolved")
    a3 = f"/api/v1/alerts?patient_id={h.patients['A3']}"
    assert [a["rule"] for a in dr.get(a3).json()] == []  # a rise of 7: fine at standard risk

    added = call(dr, h, *CLINICAL_WRITES[0], patient="A3")
    assert added.status_code == 201, added.text
    assert added.json()["changed_alerts"]
    [alert] = [a for a in dr.get(a3).json() if a["rule"] == C24]
    assert (alert["risk_tier"], alert["rise_mmol_l"], alert["limit_mmol_l"]) == ("high", 7, 6)
    assert "alcohol-use-disorder" in alert["risk_factors"]

    risks = dr.get(f"/api/v1/patients/{h.patients['A3']}/risk-factors").json()
    assert [(r["icd10_code"], r["recorded_by"]) for r in risks] == [("F10", "dr.a")]
    removed = call(dr, h, "DELETE", "/api/v1/patients/{p}/risk-factors/" + str(risks[0]["id"]),
                   REASON, patient="A3")
    assert removed.status_code == 200, removed.text
    assert [a for a in dr.get(a3).json() if a["rule"] == C24] == []  # standard risk again

    acute = call(dr, h, *CLINICAL_WRITES[2], patient="A2")
    assert acute.status_code == 201, acute.text
    assert only(403, statuses(dr, h, [("GET", p, None) for p in ADMIN_READS]
                              + ADMIN_WRITES)) == {}


def test_an_acute_mark_spares_only_rises_from_values_near_its_documented_onset(
        h: Hospital) -> None:
    # A2: 127 drawn 20 h ago, 136 1 h ago: a warning OVERCORRECTION_24H.
    dr, path = h.bearer("dr.a"), fill("/api/v1/patients/{p}/acute", h, "A2")
    a2 = f"/api/v1/alerts?patient_id={h.patients['A2']}&state=all"
    three_days_ago = (h.now - timedelta(hours=70)).isoformat()
    old = dr.post(path, json={"onset": three_days_ago, "reason": "post-op, onset documented"})
    assert (old.status_code, old.json()["changed_alerts"]) == (201, [])  # 127 came 50 h later
    assert [a["state"] for a in dr.get(a2).json() if a["rule"] == C24] == ["active"]

    now = dr.post(path, json={"reason": "marathon runner, onset this morning"})
    assert now.status_code == 201, now.text  # no onset: the time of marking
    assert now.json()["changed_alerts"]
    [alert] = [a for a in dr.get(a2).json() if a["rule"] == C24]
    assert alert["state"] == "withdrawn"
    # The physician's action is the reason, in his name (issue 14, item 4).
    assert alert["withdrawn_reason"] == (
        "dr.a marked the episode acute: marathon runner, onset this morning")

    future = dr.post(path, json={"onset": (h.now + timedelta(days=1)).isoformat(),
                                 "reason": "typo"})
    assert (future.status_code, future.json()["detail"]) == (
        422, "the onset of acute hyponatremia cannot be in the future")
    # `at` (a time inside the episode, before the onset) is refused, not read as "now".
    assert dr.post(path, json={"at": three_days_ago, "reason": "old client"}
                   ).status_code == 422
    naive = dr.post(path, json={"onset": "2026-09-14T08:00:00", "reason": "no offset"})
    assert naive.status_code == 422


def test_the_on_call_physician_resolves_on_the_roster_ward(h: Hospital) -> None:
    dr = h.bearer("dr.roster.a")
    assert {p["identifier"] for p in dr.get("/api/v1/patients").json()} == {"A1", "A2", "A3"}
    resolved = call(dr, h, *ALERT_WRITES[2])
    assert (resolved.status_code, resolved.json()["state"]) == (200, "resolved")
    assert call(dr, h, *CLINICAL_WRITES[0], patient="A3").status_code == 201


def test_an_admin_may_use_every_route(h: Hospital) -> None:
    root = h.bearer("root")
    reads = [("GET", p, None) for p in READS + ADMIN_READS]
    assert only(200, statuses(root, h, reads, patient="B1")) == {}
    assert {p["identifier"] for p in root.get("/api/v1/patients").json()} == {"A1", "A2",
                                                                               "A3", "B1"}
    for method, path, body in ALERT_WRITES:
        assert call(root, h, method, path, body, patient="B1").status_code == 200, path
    added = call(root, h, *CLINICAL_WRITES[0], patient="B1")
    assert added.status_code == 201
    remove = "/api/v1/patients/{p}/risk-factors/" + str(added.json()["id"])
    assert call(root, h, "DELETE", remove, REASON, patient="B1").status_code == 200
    assert call(root, h, *CLINICAL_WRITES[2], patient="B1").status_code == 201
    retried = call(root, h, *ADMIN_WRITES[0])
    assert (retried.status_code, retried.json()["outcome"]) == (200, "rejected-again")
    assert {u["username"] for u in root.get("/api/v1/users").json()} >= {"nurse.a", "root"}


def test_a_nurse_never_reaches_another_wards_patients_or_alerts(h: Hospital) -> None:
    nurse = h.bearer("nurse.a")
    patient_reads = [("GET", p, None) for p in READS if "{p}" in p]
    assert only(404, statuses(nurse, h, patient_reads, patient="B1")) == {}
    assert only(404, statuses(nurse, h, ALERT_WRITES[:2], patient="B1")) == {}
    assert h.alert("B1") not in alert_ids(nurse)
    assert alert_ids(nurse) and all(a["patient_id"].startswith("A")
                                    for a in nurse.get("/api/v1/alerts?state=all").json())
    assert nurse.get("/api/v1/patients?ward=SURG2").json() == []
    assert nurse.get(f"/api/v1/alerts?patient_id={h.patients['B1']}").json() == []


def test_an_on_call_physician_sees_the_other_ward_only_during_the_shift(h: Hospital) -> None:
    b1 = fill("/api/v1/patients/{p}", h, "B1")
    on_call, later = h.bearer("dr.oncall.b"), h.bearer("dr.later.b")
    assert on_call.get(b1).status_code == 200
    assert h.alert("B1") in alert_ids(on_call)
    assert [r["ward"] for r in on_call.get("/api/v1/rosters").json()] == ["SURG2", "SURG2"]
    assert later.get(b1).status_code == 404  # the shift has not started
    assert alert_ids(later) == set()
    h.end_shift("dr.oncall.b")
    assert on_call.get(b1).status_code == 404
    assert alert_ids(on_call) == set()


def test_api_writes_with_a_session_cookie_need_the_csrf_header(h: Hospital) -> None:
    browser = h.signed_in("nurse.a")
    ack = "/api/v1/alerts/{a}/acknowledge"
    assert call(browser, h, "POST", ack, NOTE).status_code == 403
    assert call(browser, h, "POST", ack, NOTE, **{"X-CSRF-Token": "forged"}).status_code == 403
    assert call(browser, h, "GET", "/api/v1/alerts", None).status_code == 200  # reads need none
    token = hidden_csrf(browser.get("/board").text)
    done = call(browser, h, "POST", ack, NOTE, **{"X-CSRF-Token": token})
    assert (done.status_code, done.json()["acknowledged_by"]) == (200, "nurse.a")
    assert call(h.bearer("nurse.a"), h, *ALERT_WRITES[1]).status_code == 200  # bearer: none


def test_api_views_actions_and_risk_changes_are_audited_and_only_admins_read_the_log(
        h: Hospital) -> None:
    nurse, dr = h.bearer("nurse.a"), h.bearer("dr.a")
    a1, a2, a3 = (str(h.patients[p]) for p in ("A1", "A2", "A3"))
    for path in ("/api/v1/patients/{p}", "/api/v1/patients/{p}/results",
                 "/api/v1/patients/{p}/risk-factors"):
        nurse.get(fill(path, h))
    alert_a1, alert_a2 = str(h.alert("A1")), str(h.alert("A2"))
    call(nurse, h, *ALERT_WRITES[0])
    call(nurse, h, *ALERT_WRITES[1], patient="A2")
    call(dr, h, *ALERT_WRITES[2])
    risk = call(dr, h, *CLINICAL_WRITES[0], patient="A3").json()["id"]
    call(dr, h, "DELETE", f"/api/v1/patients/{{p}}/risk-factors/{risk}", REASON, patient="A3")
    call(dr, h, *CLINICAL_WRITES[2], patient="A2")

    assert h.audit_rows("nurse.a") >= {
        ("view-patient", "patient", a1), ("view-results", "patient", a1),
        ("view-risk-factors", "patient", a1), ("acknowledge", "alert", alert_a1),
        ("shelve", "alert", alert_a2)}
    assert h.audit_rows("dr.a") >= {
        ("resolve", "alert", alert_a1), ("add-risk-factor", "patient", a3),
        ("remove-risk-factor", "patient", a3), ("mark-acute", "patient", a2)}

    assert nurse.get("/api/v1/audit").status_code == 403
    assert dr.get("/api/v1/audit").status_code == 403
    log = h.bearer("root").get("/api/v1/audit?actor=nurse.a").json()
    assert {(e["action"], e["target_id"]) for e in log} >= {("acknowledge", alert_a1)}
