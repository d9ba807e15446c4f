"""The sweeper under a 10,000-row backlog, with real PostgreSQL and Redis: one wake-up per
sweep whatever the backlog (the workers claim the rows themselves), and rows that are
leased or parked are not counted. No worker runs; the backlog is not processed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import redis
from sqlalchemy import Engine, Table, insert

from monitor.config import Settings
from monitor.runtime import Runtime
from monitor.runtime.dispatchers import PROCESS_TASK
from monitor.scheduling.jobs import sweep_inbox
from monitor.services.evaluation.claims import claim, park
from monitor.storage.tables import InboxItem, InboxPatient
from tests.hl7_builders import oru

BACKLOG = 10_000
NOW = datetime.now(UTC).replace(microsecond=0)
RECEIVED = NOW - timedelta(days=1)
INBOX, INBOX_PATIENTS = (cast(Table, t.__table__) for t in (InboxItem, InboxPatient))


def backlog(engine: Engine, rows: int) -> list[int]:
    """`rows` pending inbox rows, one patient each, received long ago."""
    messages = [(f"BKL{n:05d}", oru(f"BKL{n:05d}", f"K-{n}", RECEIVED, 135,
                                    control_id=f"K-{n}")) for n in range(rows)]
    with engine.begin() as c:
        ids = list(c.execute(insert(INBOX).returning(INBOX.c.id, sort_by_parameter_order=True),
                             [{"format": "hl7", "feed": "hl7:LIS", "message_id": f"K-{n}",
                               "payload": m.encode(), "received_at": RECEIVED,
                               "state": "pending", "attempts": 0}
                              for n, (_, m) in enumerate(messages)]).scalars())
        c.execute(insert(INBOX_PATIENTS).values([
            {"inbox_id": i, "patient_key": f"CITYGEN|{patient}"}
            for i, (patient, _) in zip(ids, messages, strict=True)]))
    return ids


def queued(client: redis.Redis) -> list[dict[str, Any]]:
    """The headers of the Celery tasks waiting in the default queue."""
    return [json.loads(m)["headers"] for m in cast(list[bytes], client.lrange("celery", 0, -1))]


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def rt(pg_engine: Engine, pg_migrated: str, redis_url: str) -> Iterator[Runtime]:
    runtime = Runtime(Settings(database_url=pg_migrated, broker_url=redis_url))
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def queue(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_a_backlog_gets_one_wake_up_per_sweep(rt: Runtime, pg_engine: Engine,
                                              queue: redis.Redis) -> None:
    ids = backlog(pg_engine, BACKLOG)
    assert len(ids) == BACKLOG

    assert sweep_inbox(rt, now=NOW) == BACKLOG
    wait_until(lambda: len(queued(queue)) >= 1)
    time.sleep(0.5)  # room for any further task to show (none may)
    [task] = queued(queue)
    assert (task["task"], task["argsrepr"]) == (PROCESS_TASK, "()")  # names no row

    queue.flushdb()
    for _ in range(5):
        assert sweep_inbox(rt, now=NOW) == BACKLOG
    wait_until(lambda: len(queued(queue)) >= 1)
    time.sleep(0.5)
    # Each sweep asks for one wake-up; asked for at once, they may share a task.
    assert 1 <= len(queued(queue)) <= 5

    with rt.uow() as uow:
        leased = [c.id for c in claim(uow, NOW, limit=3)]
    assert leased == ids[:3]
    with rt.uow() as uow:
        for inbox_id in ids[-2:]:
            park(uow, inbox_id, "parked by the test", NOW)
        uow.commit()
    assert sweep_inbox(rt, now=NOW) == BACKLOG - 5
