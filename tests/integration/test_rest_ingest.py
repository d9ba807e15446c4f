"""REST ingest (JSON results, HL7 over HTTP), tokens and readiness against the real API
process on PostgreSQL, with a real Celery worker on the test Redis db."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.runtime import Runtime
from monitor.services.access.tokens import create_token
from monitor.storage.tables import InboxItem, RejectRow, Result
from tests.hl7_builders import oru
from tests.integration.helpers import alerts, all_processed, count
from tests.integration.stack import ack_code, stack, wait_for

START = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)


def token(database_url: str, role: str, name: str) -> str:
    rt = Runtime(Settings(database_url=database_url, broker_url=""))
    try:
        with rt.uow() as uow:
            return create_token(uow, name, role, datetime.now(UTC))
    finally:
        rt.engine.dispose()


def row(patient: str, hours: int, sodium: Any, **more: Any) -> dict[str, Any]:
    return {"patient_id": patient, "collected_at": (START + timedelta(hours=hours)).isoformat(),
            "sodium": sodium, **more}


def test_json_and_hl7_ingest_with_tokens(pg_engine: Engine, pg_migrated: str, redis_url: str,
                                         tmp_path: Path) -> None:
    feed = {"Authorization": f"Bearer {token(pg_migrated, 'feed', 'LIS')}"}
    nurse = {"Authorization": f"Bearer {token(pg_migrated, 'nurse', 'ward nurse')}"}
    good = [row("JSON001", 0, 120, result_id="J1"), row("JSON001", 20, 130, result_id="J2"),
            row("JSON001", 21, "abc", result_id="J3"), row("", 22, 131, result_id="J4"),
            {"patient_id": "JSON001", "sodium": 132, "result_id": "J5"}]
    with stack(pg_migrated, redis_url, tmp_path) as s:
        base = s.api()
        s.worker(concurrency=2)
        with httpx.Client(base_url=base, timeout=30) as http:
            # Authentication and authorisation come before anything is stored.
            assert http.post("/api/v1/results", json=good).status_code == 401
            assert http.post("/api/v1/results", json=good,
                             headers={"Authorization": "Bearer nope"}).status_code == 401
            assert http.post("/api/v1/results", json=good, headers=nurse).status_code == 403
            assert http.post("/api/v1/hl7", content="MSH|x", headers=nurse).status_code == 403
            assert count(pg_engine, InboxItem) == 0

            accepted = http.post("/api/v1/results", json=good, headers=feed)
            assert accepted.status_code == 202, accepted.text
            body = accepted.json()
            assert isinstance(body["inbox_id"], int) and body["accepted"] == 2
            # rows the schema would refuse are rejected one by one, not the whole list
            assert [r["position"] for r in body["rejected"]] == ["body[2]", "body[3]",
                                                                 "body[4]"]
            assert all(r["reason"] for r in body["rejected"])

            unusable = [row("JSON002", 0, "n/a"), row("JSON002", 1, 130, unit="mg/dL"),
                        {**row("JSON002", 2, 131), "collected_at": "yesterday"},
                        row("", 3, 132)]
            refused = http.post("/api/v1/results", json=unusable, headers=feed)
            assert refused.status_code == 422, refused.text
            assert [r["position"] for r in refused.json()["rejected"]] == [
                "body[0]", "body[1]", "body[2]", "body[3]"]
            not_a_list = http.post("/api/v1/results", json={"patient_id": "X"}, headers=feed)
            assert not_a_list.status_code == 422

            message = oru("HTTP001", "H-001", START, 121, control_id="CTRL-HTTP-1")
            reply = http.post("/api/v1/hl7", content=message, headers=feed)
            assert reply.status_code == 200
            assert ack_code(reply.text) == ("AA", "CTRL-HTTP-1")

            unsupported = oru("HTTP001", "H-002", START, 122, control_id="CTRL-HTTP-2",
                              message_type="ORM^O01^ORM_O01")
            reply = http.post("/api/v1/hl7", content=unsupported, headers=feed)
            assert reply.status_code == 200
            assert ack_code(reply.text) == ("AR", "CTRL-HTTP-2")
            schema = http.get("/openapi.json").json()["paths"]["/api/v1/results"]["post"]
            items = schema["requestBody"]["content"]["application/json"]["schema"]["items"]
            assert {"patient_id", "collected_at", "sodium"} <= set(items["properties"])
        wait_for(lambda: all_processed(pg_engine, 2), 60, "the worker")

    with Session(pg_engine) as db:
        results = db.execute(select(Result.result_key, Result.source_feed,
                                    Result.inbox_id)).all()
        rejects = db.execute(select(RejectRow.source, RejectRow.inbox_id,
                                    RejectRow.reason)).all()
        inbox = db.execute(select(InboxItem.id, InboxItem.feed, InboxItem.state)
                           .order_by(InboxItem.id)).all()
    assert [(feed_name, state) for _, feed_name, state in inbox] == [
        ("json:LIS", "done"), ("hl7:LIS", "done")]
    assert inbox[0].id == body["inbox_id"]
    assert sorted(feed_name for _, feed_name, _ in results) == ["hl7:LIS", "json:LIS",
                                                                "json:LIS"]
    assert {i for _, f, i in results if f == "json:LIS"} == {body["inbox_id"]}
    by_source: dict[str, list[int | None]] = {}
    for source, inbox_id, _ in rejects:
        by_source.setdefault(source, []).append(inbox_id)
    # the bad rows of the accepted list (tied to its inbox row), the refused list and the
    # body that is no list (no inbox row), the unsupported HL7 message (no inbox row)
    assert sorted(by_source["json:LIS"], key=str) == sorted(
        [body["inbox_id"]] * 3 + [None, None], key=str)
    assert by_source["hl7:LIS"] == [None]
    assert any("not supported" in reason for source, _, reason in rejects
               if source == "hl7:LIS")
    # the two accepted JSON results rise 10 in 20 h: the worker raised the alert
    assert {(a["patient_id"], a["rule"]) for a in alerts(pg_engine)} >= {
        ("JSON001", "OVERCORRECTION_24H")}


def test_readiness_reports_database_and_broker_separately(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path) -> None:
    with stack(pg_migrated, redis_url, tmp_path) as s:
        up = s.api()
        down = s.api(SODIUM_BROKER_URL="redis://127.0.0.1:1/0")
        with httpx.Client(timeout=30) as http:
            assert http.get(f"{up}/healthz").status_code == 200
            ready = http.get(f"{up}/readyz")
            assert (ready.status_code, ready.json()) == (200, {"database": "ok",
                                                                "broker": "ok"})
            assert http.get(f"{down}/healthz").status_code == 200
            broken = http.get(f"{down}/readyz")
            assert broken.status_code == 503
            report = broken.json()
            assert report["database"] == "ok"
            assert report["broker"].startswith("down"), json.dumps(report)
