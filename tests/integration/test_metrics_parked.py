"""/metrics on PostgreSQL: it answers (the rejects' GROUP BY once failed there, always), and
a parked inbox row shows in it, in the rejects list and on the admin page."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

import monitor.services.evaluation.processing as processing
from monitor.ingest import parse_hl7_message
from monitor.ingest.events import Item, Reject
from monitor.runtime.drain import drain_inbox
from monitor.services.intake.inbox import receive
from tests.hl7_builders import oru
from tests.integration.helpers import forget_parsed, inbox_row
from tests.integration.hospital import Hospital, build

START = (datetime.now(UTC) - timedelta(hours=6)).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    yield made
    made.close()


def park_one(h: Hospital, monkeypatch: pytest.MonkeyPatch) -> int:
    """A row with a 400-character OBR-3 that the worker applies unscreened: PostgreSQL
    refuses it, and the row is parked."""
    def screen(items: Iterable[Item], received_at: datetime, fmt: str | None = None
               ) -> list[Item]:
        return list(items)

    monkeypatch.setattr(processing, "screen", screen)
    message = oru("MET001", "X" * 400, START, 130, control_id="C-MET")
    outcome = parse_hl7_message(message, source="hl7:LIS", tz=h.rt.pipeline.tz)
    with h.rt.uow() as uow:
        bad = receive(uow, "hl7", "hl7:LIS", message.encode(), datetime.now(UTC),
                      items=[i for i in outcome.items if not isinstance(i, Reject)],
                      message_id=outcome.control_id)
    forget_parsed(h.rt, bad)
    drain_inbox(h.rt)
    assert inbox_row(h.rt.engine, bad).state == "failed"
    return bad


def test_metrics_answer_on_postgresql_and_count_the_parked_row(
        h: Hospital, pg_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = park_one(h, monkeypatch)
    reply = h.bearer("root").get("/metrics")
    assert reply.status_code == 200, reply.text
    lines = reply.text.splitlines()
    assert "sodium_inbox_failed 1.0" in lines
    assert any(line.startswith('sodium_rejects_stored{reason="processing failed: the database')
               for line in lines)
    rejects = h.bearer("root").get("/api/v1/rejects").json()
    parked = [r for r in rejects if r["inbox_id"] == bad]
    assert len(parked) == 1 and "the database refused it" in parked[0]["reason"]
    page = h.signed_in("root").get("/admin")
    assert page.status_code == 200 and "the database refused it" in page.text
