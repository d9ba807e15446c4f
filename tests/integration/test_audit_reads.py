"""Issue 13, finding 10: every read of patient data and every access denial leaves an audit
row, and the database keeps audit_log append-only (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from monitor.storage.tables import AuditEntry
from tests.integration.hospital import Hospital, build


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    yield made
    made.close()


def rows(h: Hospital, action: str) -> list[AuditEntry]:
    with h.rt.uow() as uow:
        return list(uow.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                        .order_by(AuditEntry.id)))


def test_lists_board_and_census_search_are_audited(h: Hospital) -> None:
    nurse = h.bearer("nurse.a")
    a1 = h.patients["A1"]
    assert nurse.get(f"/api/v1/alerts?patient_id={a1}").status_code == 200
    assert nurse.get("/api/v1/patients").status_code == 200
    browser = h.signed_in("nurse.a")
    assert browser.get("/board").status_code == 200
    assert browser.get("/wards/MED4?q=A1").status_code == 200
    admin = h.bearer("root")
    assert admin.get("/api/v1/rejects").status_code == 200

    [alerts] = rows(h, "list-alerts")
    assert (alerts.actor, alerts.target_type, alerts.target_id) == ("nurse.a", "patient",
                                                                    str(a1))
    [patients] = rows(h, "list-patients")
    assert patients.actor == "nurse.a" and patients.details["shown"] >= 1
    [board] = rows(h, "view-board")
    assert board.actor == "nurse.a"
    [census] = rows(h, "view-census")
    assert (census.target_id, census.details["search"]) == ("MED4", "A1")
    assert [r.actor for r in rows(h, "list-rejects")] == ["root"]


def test_every_access_denial_is_audited_with_who_and_what(h: Hospital) -> None:
    anonymous = h.client()
    assert anonymous.get("/api/v1/patients").status_code == 401
    assert anonymous.get("/board").status_code == 303  # sent to sign in
    nurse = h.bearer("nurse.a")
    assert nurse.get("/api/v1/audit").status_code == 403
    feed = h.bearer("feed")
    assert feed.get("/api/v1/alerts").status_code == 403

    denied = {(r.actor, r.target_id, r.details["status"]) for r in rows(h, "access-denied")}
    assert ("anonymous", "/api/v1/patients", 401) in denied
    assert ("anonymous", "/board", 303) in denied
    assert ("nurse.a", "/api/v1/audit", 403) in denied
    assert any(actor != "anonymous" and path == "/api/v1/alerts" and status == 403
               for actor, path, status in denied), denied


def test_audit_log_is_append_only_in_postgresql(h: Hospital, pg_engine: Engine) -> None:
    h.bearer("nurse.a").get("/api/v1/patients")  # writes one row: inserting works
    with pg_engine.connect() as c:
        assert c.scalar(text("SELECT count(*) FROM audit_log")) >= 1
    for statement in ("UPDATE audit_log SET actor = 'someone else'",
                      "DELETE FROM audit_log"):
        with pg_engine.connect() as c, pytest.raises(DBAPIError, match="append-only"):
            c.execute(text(statement))
            c.commit()
    with pg_engine.connect() as c:
        assert c.scalar(text("SELECT count(*) FROM audit_log WHERE actor = 'nurse.a'")) >= 1


def test_an_open_event_stream_ends_when_its_session_is_logged_out(
        h: Hospital, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from monitor.web import live

    monkeypatch.setattr(live, "KEEPALIVE_S", 0.2)  # the session is re-checked this often
    browser = h.signed_in("nurse.a")
    other_tab = h.client()
    other_tab.cookies.update(browser.cookies)
    csrf = re.search(r'name="csrf" value="([^"]+)"', other_tab.get("/board").text)
    assert csrf is not None
    seen: list[str] = []
    with browser.stream("GET", "/events") as stream:
        assert stream.status_code == 200
        for line in stream.iter_lines():
            seen.append(line)
            if line.startswith(": connected"):
                assert other_tab.post("/logout", data={"csrf": csrf.group(1)}
                                      ).status_code == 303
            if len(seen) > 200:
                break
    assert "event: signed-out" in seen, seen[-5:]  # the stream ended itself
    assert browser.get("/events").status_code == 401  # its cookie no longer opens one
