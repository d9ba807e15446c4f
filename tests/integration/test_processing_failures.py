"""Rows whose processing raises, on real PostgreSQL. A payload the parser cannot read is
parked at once (parsing is deterministic: it would fail the same way again); any other
error that is neither a database refusal nor operational is retried, counted, and parked
after MAX_ATTEMPTS. Neither blocks the patient's later rows nor the rest of the batch.

Only pure functions on the processing path are replaced."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import monitor.services.evaluation.processing as processing
from monitor.config import Settings
from monitor.ingest.events import Item, ResultEvent
from monitor.runtime import Runtime
from monitor.runtime.drain import drain_inbox, run_inbox
from monitor.scheduling.jobs import sweep_inbox
from monitor.services.evaluation.claims import MAX_ATTEMPTS, Claimed
from monitor.storage.tables import RejectRow, Result
from tests.hl7_builders import oru
from tests.integration.helpers import alerts, forget_parsed, inbox_row, store_hl7

START = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
POISON = "POISON"
BUGGY = "BUG01"


@pytest.fixture
def rt(pg_engine: Engine, pg_migrated: str) -> Iterator[Runtime]:
    runtime = Runtime(Settings(database_url=pg_migrated, broker_url="",
                               inbox_sweep_after=timedelta(seconds=1)))
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def unparsable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parser raises on any payload that contains POISON."""
    real = processing.parse_payload

    def parse(fmt: str, payload: bytes, source: str, p: processing.Pipeline) -> Iterable[Item]:
        if POISON.encode() in payload:
            raise ValueError("parser bug provoked by the test")
        return real(fmt, payload, source, p)

    monkeypatch.setattr(processing, "parse_payload", parse)


@pytest.fixture
def buggy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Applying a result of patient BUG01 raises; returns the attempt count of each row
    that raised, in order."""
    real = processing._Batch._result
    seen: list[int] = []

    def result(self: processing._Batch, row: Claimed, position: int, e: ResultEvent) -> None:
        if e.patient.identifier == BUGGY:
            seen.append(row.attempts)
            raise RuntimeError("engine bug provoked by the test")
        real(self, row, position, e)

    monkeypatch.setattr(processing._Batch, "_result", result)
    return seen


def rejects(engine: Engine) -> list[tuple[int | None, str]]:
    with Session(engine) as s:
        return [(r.inbox_id, r.reason) for r in s.execute(
            select(RejectRow.inbox_id, RejectRow.reason).order_by(RejectRow.id))]


def result_orders(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return sorted(k.split("|")[0] for k in s.scalars(select(Result.result_key)))


def poisoned(patient: str, order: str, hours: int) -> str:
    # A valid message (so it is received and stored) whose text trips the replaced parser.
    return oru(patient, order, START + timedelta(hours=hours), 121,
               control_id=f"{POISON}-{order}")


@pytest.mark.usefixtures("unparsable")
def test_an_unparsable_payload_is_parked_at_once_and_the_patient_goes_on(
        rt: Runtime, pg_engine: Engine) -> None:
    now = datetime.now(UTC)
    bad = store_hl7(rt, poisoned("FAIL01", "P-1", 0), now)
    forget_parsed(rt, bad)  # the worker parses it (a row kept from an older version)
    good = store_hl7(rt, oru("FAIL01", "P-2", START + timedelta(hours=1), 115), now)

    drained = drain_inbox(rt)
    assert drained.failed == [bad] and drained.done == [good]
    row = inbox_row(pg_engine, bad)
    # Parked on its first processing: parsing is deterministic, a retry would fail alike.
    assert (row.state, row.attempts) == ("failed", 1)
    assert row.error is not None and "ValueError" in row.error and "parser bug" in row.error
    [(inbox_id, reason)] = rejects(pg_engine)
    assert inbox_id == bad
    assert "cannot be parsed" in reason and "parser bug" in reason
    # The same patient's later result went through and alerts.
    assert inbox_row(pg_engine, good).state == "done"
    assert result_orders(pg_engine) == ["P-2"]
    assert [(a["patient_id"], a["rule"], a["state"]) for a in alerts(pg_engine)] == [
        ("FAIL01", "SEVERE_HYPONATREMIA", "active")]

    # Never retried: nothing claimable is left for the sweeper or a worker.
    assert sweep_inbox(rt, now=now + timedelta(hours=1)) == 0
    assert drain_inbox(rt).batches == 0
    assert run_inbox(rt, bad) == "already-done"
    after = inbox_row(pg_engine, bad)
    assert (after.state, after.attempts) == ("failed", 1)
    assert len(rejects(pg_engine)) == 1


def test_an_error_that_is_not_the_databases_is_retried_then_parked(
        rt: Runtime, pg_engine: Engine, buggy: list[int]) -> None:
    now = datetime.now(UTC)
    before = store_hl7(rt, oru("OK01", "B-0", START, 125), now)
    bad = store_hl7(rt, oru(BUGGY, "B-1", START, 121), now)
    after = store_hl7(rt, oru("OK02", "B-2", START, 115), now)

    for attempt in range(1, MAX_ATTEMPTS + 1):
        # budget 0: one claim and its processing per call (one "processing run"); a minute
        # apart, past the back-off after each failure.
        drained = drain_inbox(rt, budget_s=0, now=now + timedelta(minutes=attempt))
        assert drained.batches == 1
        row = inbox_row(pg_engine, bad)
        assert row.attempts == attempt
        assert row.error is not None and "engine bug" in row.error
        assert row.state == ("failed" if attempt == MAX_ATTEMPTS else "pending")
        assert len(rejects(pg_engine)) == (1 if attempt == MAX_ATTEMPTS else 0)
        if attempt == 1:
            # The batch was retried row by row: the other patients' rows are done.
            assert sorted(drained.done) == [before, after]
            assert result_orders(pg_engine) == ["B-0", "B-2"]
    # Each run saw the row with one more attempt counted (the batch, then the row alone).
    assert list(dict.fromkeys(buggy)) == list(range(1, MAX_ATTEMPTS + 1))
    assert buggy == sorted(buggy)

    [(inbox_id, reason)] = rejects(pg_engine)
    assert inbox_id == bad
    assert f"failed {MAX_ATTEMPTS} times" in reason and "RuntimeError" in reason
    assert sweep_inbox(rt, now=now + timedelta(hours=1)) == 0
    assert drain_inbox(rt, now=now + timedelta(hours=1)).batches == 0
    assert inbox_row(pg_engine, bad).attempts == MAX_ATTEMPTS
    assert inbox_row(pg_engine, before).state == inbox_row(pg_engine, after).state == "done"
    assert result_orders(pg_engine) == ["B-0", "B-2"]
    assert [(a["patient_id"], a["rule"]) for a in alerts(pg_engine)] == [
        ("OK02", "SEVERE_HYPONATREMIA")]
