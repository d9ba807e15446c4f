"""Alerts read as FHIR R4 DetectedIssue and Flag (issue 17 item 2): on PostgreSQL, through
the real app, under the JSON API's tokens, ward scoping and read audit. The hospital is
tests/integration/hospital.py (ward A: A1 critical and A2 warning OVERCORRECTION_24H, A3
none; ward B: B1 critical); one patient more comes from a FHIR feed, with Observation ids."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from monitor.storage.tables import Patient
from tests.fhir_cohort import LOINC, MRN_SYSTEM
from tests.integration.hospital import C24, Hospital, build


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    yield made
    made.close()


def fhir_patient(h: Hospital) -> None:
    """pt-9 (MRN-9009) from a FHIR feed: 114 then 125 19 h later, a critical rise."""
    def obs(n: int, hours: float, value: float) -> dict[str, Any]:
        return {"resourceType": "Observation", "id": f"pt-9-na-{n}", "status": "final",
                "code": {"coding": [{"system": LOINC, "code": "2951-2"}]},
                "subject": {"reference": "Patient/pt-9"},
                "effectiveDateTime": (h.now - timedelta(hours=hours)).isoformat(),
                "valueQuantity": {"value": value, "unit": "mmol/L",
                                  "system": "http://unitsofmeasure.org", "code": "mmol/L"}}
    entries = [{"resourceType": "Patient", "id": "pt-9", "identifier": [
        {"system": MRN_SYSTEM, "value": "MRN-9009"}]}, obs(0, 20, 114), obs(1, 1, 125)]
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"resource": r} for r in entries]}
    reply = h.client().post("/fhir", json=bundle,
                            headers={"Authorization": f"Bearer {h.tokens['feed']}"})
    assert reply.status_code == 200, reply.text
    with h.rt.uow() as uow:
        h.patients = {p.identifier: p.id for p in uow.session.scalars(select(Patient))}


def search(h: Hospital, who: str, path: str, **params: Any) -> dict[str, Any]:
    reply = h.bearer(who).get(path, params=params)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/fhir+json")
    found: dict[str, Any] = reply.json()
    assert found["resourceType"] == "Bundle" and found["type"] == "searchset"
    return found


def ids(bundle: dict[str, Any]) -> set[str]:
    return {e["resource"]["id"] for e in bundle["entry"]}


def issues(h: Hospital, who: str = "nurse.a", **params: Any) -> dict[str, dict[str, Any]]:
    """DetectedIssues by id (OVERCORRECTION_24H ones only: other rules may fire too)."""
    return {e["resource"]["id"]: e["resource"] for e in search(
        h, who, "/fhir/DetectedIssue", **params)["entry"]
        if e["resource"]["code"]["coding"][0]["code"] == C24}


def test_a_detected_issue_shows_what_the_alert_shows(h: Hospital) -> None:
    a1, a2 = str(h.alert("A1")), str(h.alert("A2"))
    alert = {a["alert_id"]: a for a in h.bearer("nurse.a").get("/api/v1/alerts").json()}
    found = issues(h)
    assert set(found) == {a1, a2}  # not B1's: ward B
    one = found[a1]
    assert one["status"] == "preliminary" and one["severity"] == "high"
    assert found[a2]["severity"] == "moderate"  # a warning
    assert one["code"]["coding"] == [{"system": "urn:sodium-monitor:alert-rule", "code": C24}]
    assert one["code"]["text"] == "Overcorrection 24h"
    assert one["detail"] == alert[a1]["message"]
    authority = alert[a1]["patient_authority"]  # no FHIR Patient id known: no reference
    assert one["patient"] == {"identifier": {"value": "A1"} | (
        {"system": authority} if authority else {})}
    assert datetime.fromisoformat(one["identifiedDateTime"]) == \
        datetime.fromisoformat(alert[a1]["triggered_at"])
    assert "implicated" not in one  # HL7 results have no Observation id
    assert "mitigation" not in one
    assert h.bearer("nurse.a").get(f"/fhir/DetectedIssue/{a1}").json() == one


def test_acknowledge_and_resolve_are_mitigations(h: Hospital) -> None:
    a1 = h.alert("A1")
    dr = h.bearer("dr.a")
    assert dr.post(f"/api/v1/alerts/{a1}/acknowledge", json={"note": "seen"}).status_code == 200
    assert dr.post(f"/api/v1/alerts/{a1}/resolve", json={"note": "D5W"}).status_code == 200
    issue = dr.get(f"/fhir/DetectedIssue/{a1}").json()
    assert [(m["action"]["text"], m["author"]["display"]) for m in issue["mitigation"]] == [
        ("Acknowledged: seen", "dr.a"), ("Resolved: D5W", "dr.a")]
    assert all(datetime.fromisoformat(m["date"]) <= datetime.now(UTC)
               for m in issue["mitigation"])
    assert issue["status"] == "final"  # resolved, and still listed (closed recently)
    assert str(a1) in issues(h, "dr.a", status="final")
    assert str(a1) not in issues(h, "dr.a", status="preliminary")
    assert str(h.alert("A2")) in issues(h, "dr.a", status="preliminary")


def test_search_by_patient_identifier_fhir_id_and_last_updated(h: Hospital) -> None:
    fhir_patient(h)
    pt9 = str(h.alert("MRN-9009"))
    found = issues(h, "root", patient="pt-9")
    assert set(found) == {pt9}
    assert found[pt9]["patient"] == {"reference": "Patient/pt-9", "identifier": {
        "system": MRN_SYSTEM, "value": "MRN-9009"}}
    assert found[pt9]["implicated"] == [{"reference": "Observation/pt-9-na-1"}]
    assert set(issues(h, "root", patient="Patient/pt-9")) == {pt9}
    assert set(issues(h, "root", patient="nobody")) == set()
    assert set(issues(h, "root", **{"patient:identifier": f"{MRN_SYSTEM}|MRN-9009"})) == {pt9}
    assert set(issues(h, "root", **{"patient:identifier": "other|MRN-9009"})) == set()
    assert set(issues(h, "root", **{"patient:identifier": "A1"})) == {str(h.alert("A1"))}
    assert set(issues(h, "nurse.a", **{"patient:identifier": "B1"})) == set()  # ward B
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    past = (h.now - timedelta(days=1)).isoformat()
    assert set(issues(h, "root", _lastUpdated=f"ge{past}")) >= {pt9}
    assert issues(h, "root", _lastUpdated=f"gt{future}") == {}
    assert set(issues(h, "root", _lastUpdated=[f"ge{past}", f"lt{future}"])) >= {pt9}
    assert issues(h, "root", _lastUpdated=f"le{past}") == {}
    bad = h.bearer("root").get("/fhir/DetectedIssue", params={"_lastUpdated": "ge-soon"})
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"


def test_count_pages_the_search(h: Hospital) -> None:
    first = search(h, "root", "/fhir/DetectedIssue", _count=1)
    assert len(first["entry"]) == 1 and first["total"] >= 3
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = h.bearer("root").get(following).json()
    assert len(second["entry"]) == 1 and ids(second) != ids(first)
    big = search(h, "root", "/fhir/DetectedIssue", _count=100_000)  # cut to 200
    assert len(big["entry"]) == big["total"]


def test_a_flag_for_each_patient_with_an_open_overcorrection(h: Hospital) -> None:
    p = h.patients
    flags = {e["resource"]["id"]: e["resource"]
             for e in search(h, "nurse.a", "/fhir/Flag")["entry"]}
    assert set(flags) == {str(p["A1"]), str(p["A2"])}  # not A3 (no alert), not B1 (ward B)
    one = flags[str(p["A1"])]
    assert one["status"] == "active"
    assert one["category"][0]["coding"][0]["code"] == "clinical"
    assert one["code"]["text"].startswith("Sodium overcorrection: ")
    assert C24 in one["code"]["text"]  # with every open overcorrection rule of the patient
    assert one["subject"]["identifier"]["value"] == "A1"
    open_events = [a for a in h.bearer("nurse.a").get(
        "/api/v1/alerts", params={"patient_id": p["A1"]}).json() if "OVERCORRECTION" in a["rule"]]
    assert datetime.fromisoformat(one["period"]["start"]) == min(
        datetime.fromisoformat(a["triggered_at"]) for a in open_events)  # the first one's
    c = h.bearer("nurse.a")
    assert c.get(f"/fhir/Flag/{p['A1']}").json() == one
    assert c.get(f"/fhir/Flag/{p['A3']}").status_code == 404
    assert ids(search(h, "nurse.a", "/fhir/Flag", **{"patient:identifier": "A2"})) == \
        {str(p["A2"])}
    assert ids(search(h, "nurse.a", "/fhir/Flag", status="inactive")) == set()
    assert ids(search(h, "nurse.a", "/fhir/Flag", status="active")) == set(flags)
    fhir_patient(h)
    assert ids(search(h, "root", "/fhir/Flag", patient="pt-9")) == {str(h.patients["MRN-9009"])}
    dr = h.bearer("dr.a")
    for open_event in dr.get("/api/v1/alerts", params={"patient_id": p["A1"]}).json():
        if "OVERCORRECTION" in open_event["rule"]:
            a = open_event["alert_id"]
            assert dr.post(f"/api/v1/alerts/{a}/acknowledge", json={}).status_code == 200
            assert dr.post(f"/api/v1/alerts/{a}/resolve", json={"note": "ok"}).status_code == 200
    assert c.get(f"/fhir/Flag/{p['A1']}").status_code == 404  # no open event any more


def test_the_capability_statement_lists_them(h: Hospital) -> None:
    meta = h.client().get("/fhir/metadata").json()
    kinds = {r["type"]: r for r in meta["rest"][0]["resource"]}
    for kind in ("DetectedIssue", "Flag"):
        assert {i["code"] for i in kinds[kind]["interaction"]} == {"read", "search-type"}
        assert {"patient", "patient:identifier", "status"} <= {
            s["name"] for s in kinds[kind]["searchParam"]}
    assert "_lastUpdated" in {s["name"] for s in kinds["DetectedIssue"]["searchParam"]}


def test_reads_need_a_token_see_only_your_wards_and_are_audited(h: Hospital) -> None:
    b1, a1 = h.alert("B1"), h.alert("A1")
    anonymous = h.client()
    for path in ("/fhir/DetectedIssue", f"/fhir/DetectedIssue/{a1}", "/fhir/Flag",
                 f"/fhir/Flag/{h.patients['A1']}"):
        assert anonymous.get(path).status_code == 401, path
    assert h.bearer("feed").get("/fhir/DetectedIssue").status_code == 403  # sends, never reads
    nurse = h.bearer("nurse.a")
    assert nurse.get(f"/fhir/DetectedIssue/{b1}").status_code == 404
    assert nurse.get(f"/fhir/Flag/{h.patients['B1']}").status_code == 404
    assert nurse.get("/fhir/DetectedIssue/not-a-number").status_code == 404
    assert str(b1) in issues(h, "nurse.b")
    assert str(b1) not in issues(h, "nurse.a")
    nurse.get(f"/fhir/DetectedIssue/{a1}")
    nurse.get("/fhir/Flag", params={"patient:identifier": "A1"})
    rows = h.audit_rows("nurse.a")
    assert ("view-alert", "alert", str(a1)) in rows
    assert ("list-alerts", "patient", None) in rows  # the searches above
    assert ("list-alerts", "patient", "A1") in rows


def test_count_zero_gives_the_total_only(h: Hospital) -> None:
    every = search(h, "root", "/fhir/DetectedIssue")
    counted = search(h, "root", "/fhir/DetectedIssue", _count=0)
    assert counted["total"] == every["total"] >= 3
    assert counted.get("entry", []) == []
    assert [link["relation"] for link in counted["link"]] == ["self"]  # no endless "next"


def test_a_withdrawn_alert_reads_as_entered_in_error(h: Hospital) -> None:
    a2 = str(h.alert("A2"))  # 127 -> 136: a warning; an acute mark withdraws it
    marked = h.bearer("dr.a").post(f"/api/v1/patients/{h.patients['A2']}/acute",
                                   json={"reason": "marathon runner, onset this morning"})
    assert marked.status_code == 201, marked.text
    withdrawn = issues(h, status="entered-in-error")
    assert set(withdrawn) == {a2}
    assert withdrawn[a2]["status"] == "entered-in-error"
    assert a2 not in issues(h, status="preliminary")
    assert issues(h)[a2]["status"] == "entered-in-error"  # still listed: closed recently
