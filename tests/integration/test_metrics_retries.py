"""Retries on /metrics, on PostgreSQL: `sodium_inbox_retries_total` and
`sodium_delivery_retries_total` count every attempt after the first, are Prometheus
counters, and do not go down when the rows they counted are finished, parked or purged,
so `rate()` gives retries per minute."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

import monitor.services.evaluation.processing as processing
from monitor.ingest.events import ResultEvent
from monitor.notify.sender import send
from monitor.runtime.drain import drain_inbox
from monitor.services.evaluation.claims import MAX_ATTEMPTS, Claimed
from monitor.storage.tables import Delivery, InboxItem, NotificationChannel, RejectRow, User
from tests.hl7_builders import oru
from tests.integration.helpers import inbox_row, store_hl7
from tests.integration.hospital import Hospital, build
from tests.integration.test_metrics_gauges import scrape

BUGGY = "BUG01"
INBOX, DELIVERY = "sodium_inbox_retries", "sodium_delivery_retries"


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    yield made
    made.close()


@pytest.fixture
def buggy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Applying a result of patient BUG01 raises (an engine bug: retried, then parked)."""
    real = processing._Batch._result

    def result(self: processing._Batch, row: Claimed, position: int, e: ResultEvent) -> None:
        if e.patient.identifier == BUGGY:
            raise RuntimeError("engine bug provoked by the test")
        real(self, row, position, e)

    monkeypatch.setattr(processing._Batch, "_result", result)


def retries(h: Hospital) -> dict[str, float]:
    families = scrape(h)[1]
    assert families[INBOX][0] == families[DELIVERY][0] == "counter"
    return {name: families[name][1][(f"{name}_total",)] for name in (INBOX, DELIVERY)}


@pytest.mark.usefixtures("buggy")
def test_inbox_retries_are_counted_and_stay_counted_after_the_rows_go(
        h: Hospital, pg_engine: Engine) -> None:
    assert retries(h) == {INBOX: 0.0, DELIVERY: 0.0}
    now = datetime.now(UTC)
    start = now - timedelta(hours=3)
    ok = store_hl7(h.rt, oru("OK01", "R-0", start, 125), now)
    bad = store_hl7(h.rt, oru(BUGGY, "R-1", start, 121), now)
    for attempt in range(1, MAX_ATTEMPTS + 2):  # past the back-off each time
        drain_inbox(h.rt, budget_s=0, now=now + timedelta(minutes=attempt))
    assert inbox_row(pg_engine, ok).state == "done"
    assert (inbox_row(pg_engine, bad).state, inbox_row(pg_engine, bad).attempts) == (
        "failed", MAX_ATTEMPTS)
    # The first batch failed: both rows were tried again alone (2); then the bad row was
    # claimed again after each failure until it was parked (MAX_ATTEMPTS - 1).
    expected = 2 + MAX_ATTEMPTS - 1
    assert retries(h)[INBOX] == expected
    with Session(pg_engine) as s:  # the parked row purged
        s.execute(delete(RejectRow).where(RejectRow.inbox_id == bad))
        s.execute(delete(InboxItem).where(InboxItem.id == bad))
        s.commit()
    assert retries(h)[INBOX] == expected


def test_delivery_retries_are_counted_and_stay_counted_after_the_rows_go(
        h: Hospital, pg_engine: Engine) -> None:
    now = datetime.now(UTC)
    with Session(pg_engine) as s:
        nurse = s.query(User).filter_by(username="nurse.a").one()
        dead = NotificationChannel(user_id=nurse.id, kind="webhook",
                                   target="http://127.0.0.1:9/refused", secret="s")
        s.add(dead)
        s.flush()
        s.add(Delivery(alert_id=h.alert("A1"), channel_id=dead.id, recipient="nurse.a",
                       event="raised", idempotency_key="metrics-retry-test", state="pending",
                       attempts=0, next_attempt_at=now, created_at=now))
        s.commit()
    at = now
    outcomes = []
    for _ in range(3):
        outcomes.append(send(h.rt.uow(), _delivery(pg_engine), h.rt.settings, at))
        at += timedelta(hours=1)  # past each back-off
    assert outcomes == ["retry", "retry", "retry"]
    assert retries(h)[DELIVERY] == 2.0  # the first attempt is no retry
    with Session(pg_engine) as s:
        s.execute(delete(Delivery))
        s.commit()
    assert retries(h)[DELIVERY] == 2.0


def _delivery(engine: Engine) -> int:
    with Session(engine) as s:
        found = s.query(Delivery.id).filter_by(idempotency_key="metrics-retry-test").scalar()
    assert found is not None
    return int(found)
