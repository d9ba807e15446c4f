"""A payload whose processing raises (not a database error) is retried by the sweeper and,
after 5 attempts, parked as 'failed' with a reject row; it never blocks other payloads.

Only the pure parse function is replaced; PostgreSQL is real."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import monitor.services.processing as processing
from monitor.config import Settings
from monitor.ingest import parse_hl7_message
from monitor.ingest.events import Item
from monitor.runtime import Runtime
from monitor.scheduling.jobs import sweep_inbox
from monitor.services.dispatch import MAX_ATTEMPTS, InProcessDispatcher, run_inbox
from monitor.services.inbox import receive, screen
from monitor.storage.tables import InboxItem, RejectRow, Result
from tests.hl7_builders import oru

START = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
POISON = "POISON"


@pytest.fixture
def rt(pg_engine: Engine, pg_migrated: str,
       monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    real = processing.parse_payload

    def parse(fmt: str, payload: bytes, source: str, p: processing.Pipeline) -> Iterable[Item]:
        if POISON.encode() in payload:
            raise ValueError("parser bug provoked by the test")
        return real(fmt, payload, source, p)

    monkeypatch.setattr(processing, "parse_payload", parse)
    runtime = Runtime(Settings(database_url=pg_migrated, broker_url="",
                               inbox_sweep_after=timedelta(seconds=1)))
    yield runtime
    runtime.engine.dispose()


def store(rt: Runtime, message: str, now: datetime) -> int:
    outcome = parse_hl7_message(message, source="hl7:LIS", tz=rt.pipeline.tz)
    with rt.uow() as uow:
        return receive(uow, "hl7", "hl7:LIS", message.encode(), now,
                       items=screen(outcome.items, now), message_id=outcome.control_id)


def item(engine: Engine, inbox_id: int) -> InboxItem:
    with Session(engine) as s:
        found = s.get_one(InboxItem, inbox_id)
        s.expunge(found)
        return found


def poisoned(patient: str, order: str, hours: int) -> str:
    # A valid message (so it is received and stored) whose text trips the replaced parser.
    return oru(patient, order, START + timedelta(hours=hours), 121,
               control_id=f"{POISON}-{order}")


def test_a_failing_payload_is_retried_then_parked_with_a_reject(rt: Runtime,
                                                                pg_engine: Engine) -> None:
    now = datetime.now(UTC)
    bad = store(rt, poisoned("FAIL01", "P-1", 0), now)
    dispatcher = rt.dispatcher
    assert isinstance(dispatcher, InProcessDispatcher)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        # The sweeper is what retries a row whose task gave up.
        assert sweep_inbox(rt, now=now + timedelta(minutes=attempt)) == 1
        dispatcher.drain()
        row = item(pg_engine, bad)
        assert row.attempts == attempt
        assert row.error is not None and "ValueError" in row.error
        assert row.state == ("failed" if attempt == MAX_ATTEMPTS else "pending")
        with Session(pg_engine) as s:
            rejects = list(s.execute(select(RejectRow.inbox_id, RejectRow.reason)))
        assert len(rejects) == (1 if attempt == MAX_ATTEMPTS else 0)
    assert rejects[0].inbox_id == bad
    assert f"failed {MAX_ATTEMPTS} times" in rejects[0].reason
    assert "parser bug" in rejects[0].reason
    # Parked: the sweeper no longer picks it up, and running it again changes nothing.
    assert sweep_inbox(rt, now=now + timedelta(hours=1)) == 0
    assert run_inbox(rt, bad) == "already-done"
    with Session(pg_engine) as s:
        assert s.scalar(select(func.count()).select_from(RejectRow)) == 1
        assert s.scalar(select(func.count()).select_from(Result)) == 0


def test_a_failing_payload_does_not_take_the_patients_later_results_with_it(
        rt: Runtime, pg_engine: Engine) -> None:
    now = datetime.now(UTC)
    bad = store(rt, poisoned("FAIL02", "Q-1", 0), now)
    good = store(rt, oru("FAIL02", "Q-2", START + timedelta(hours=1), 122), now)
    other = store(rt, oru("FAIL03", "Q-3", START, 125), now)
    assert run_inbox(rt, other) == "processed"
    # The later result of the same patient is processed although the earlier row fails.
    assert run_inbox(rt, good) == "processed"
    assert item(pg_engine, good).state == "done"
    assert run_inbox(rt, bad) == "failed"
    assert item(pg_engine, bad).state == "pending"
    with Session(pg_engine) as s:
        keys = sorted(s.scalars(select(Result.result_key)))
    assert [k.split("|")[0] for k in keys] == ["Q-2", "Q-3"]
