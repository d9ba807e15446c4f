"""Leases on real PostgreSQL: a row claimed by a worker that died waits for its lease to
expire, is then claimed again, and after MAX_ATTEMPTS such claims is parked; meanwhile the
patient's later rows wait (arrival order), and then proceed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.runtime import Runtime
from monitor.runtime.drain import drain_inbox
from monitor.scheduling.jobs import sweep_inbox
from monitor.services.evaluation.claims import LEASE, MAX_ATTEMPTS, claim
from monitor.storage.tables import RejectRow, Result
from tests.hl7_builders import oru
from tests.integration.helpers import inbox_row, store_hl7

START = (datetime.now(UTC) - timedelta(hours=6)).replace(minute=0, second=0, microsecond=0)
SECOND = timedelta(seconds=1)


class Wakes:
    """A dispatcher that only counts wake-ups: the test processes the inbox itself."""

    def __init__(self) -> None:
        self.asked = 0

    def process(self, inbox_id: int | None = None) -> None:
        self.asked += 1

    def deliver(self, delivery_id: int) -> None:
        raise AssertionError("nothing is delivered here")


@pytest.fixture
def rt(pg_engine: Engine, pg_migrated: str) -> Iterator[Runtime]:
    runtime = Runtime(Settings(database_url=pg_migrated, broker_url="redis://unused"),
                      Wakes())
    yield runtime
    runtime.engine.dispose()


def claim_ids(rt: Runtime, now: datetime, only: list[int] | None = None) -> list[int]:
    with rt.uow() as uow:
        return [c.id for c in claim(uow, now, only=only)]


def test_a_dead_workers_row_waits_for_its_lease_then_is_parked_after_max_attempts(
        rt: Runtime, pg_engine: Engine) -> None:
    wakes = rt.dispatcher
    assert isinstance(wakes, Wakes)
    t0 = datetime.now(UTC)
    dead = store_hl7(rt, oru("LEASE01", "L-1", START, 121), t0 - timedelta(hours=1))

    # Claimed by a worker that dies: never finished, never released.
    assert claim_ids(rt, t0) == [dead]
    assert inbox_row(pg_engine, dead).attempts == 1
    # Leased: another claim, and the sweeper, leave it alone until lease_until.
    assert claim_ids(rt, t0 + LEASE - SECOND) == []
    assert sweep_inbox(rt, now=t0 + LEASE - SECOND) == 0
    assert wakes.asked == 0

    # The patient's later row waits behind the leased one (arrival order per patient).
    later = store_hl7(rt, oru("LEASE01", "L-2", START + timedelta(hours=1), 128), t0)
    assert drain_inbox(rt, now=t0 + SECOND).done == []
    assert (inbox_row(pg_engine, later).state, inbox_row(pg_engine, later).attempts) == (
        "pending", 0)

    # After the lease it is claimable again (and so is the row behind it): one wake-up.
    assert sweep_inbox(rt, now=t0 + LEASE + SECOND) == 2
    assert wakes.asked == 1
    at = t0
    for attempt in range(2, MAX_ATTEMPTS + 1):
        at += LEASE + SECOND
        assert claim_ids(rt, at, only=[dead]) == [dead]  # and that worker dies too
        assert inbox_row(pg_engine, dead).attempts == attempt
    at += LEASE + SECOND
    assert claim_ids(rt, at, only=[dead]) == []  # claimed once too often: parked

    row = inbox_row(pg_engine, dead)
    assert row.state == "failed" and row.lease_until is None
    assert row.error is not None and f"claimed {MAX_ATTEMPTS} times" in row.error
    with Session(pg_engine) as s:
        [reason] = s.scalars(select(RejectRow.reason).where(RejectRow.inbox_id == dead))
        assert f"claimed {MAX_ATTEMPTS} times" in reason
    assert sweep_inbox(rt, now=at + LEASE + SECOND) == 1  # the later row, not the parked one
    assert claim_ids(rt, at + LEASE + SECOND, only=[dead]) == []

    # The patient's later row now proceeds.
    assert drain_inbox(rt, now=at + SECOND).done == [later]
    assert inbox_row(pg_engine, later).state == "done"
    with Session(pg_engine) as s:
        assert [k.split("|")[0] for k in s.scalars(select(Result.result_key))] == ["L-2"]
    assert sweep_inbox(rt, now=at + 2 * LEASE) == 0
