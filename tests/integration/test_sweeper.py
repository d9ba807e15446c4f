"""The inbox sweeper: a row left pending (its task lost) is re-enqueued once it is older than
SODIUM_INBOX_SWEEP_AFTER and processed by a real worker; two sweeps at once process it once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.runtime import Runtime
from monitor.scheduling.jobs import sweep_inbox
from monitor.storage.tables import Alert, AlertEvent, Result
from tests.hl7_builders import oru
from tests.integration.helpers import alerts, inbox_row, store_hl7
from tests.integration.stack import stack, wait_for

START = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
SWEEP_AFTER = timedelta(seconds=5)


def queue_idle(url: str) -> bool:
    """Nothing waiting in the Celery queue and nothing delivered but unacknowledged."""
    client = redis.Redis.from_url(url)
    try:
        return client.llen("celery") == 0 and client.hlen("unacked") == 0
    finally:
        client.close()


def test_sweeper_reenqueues_a_stale_row_and_a_double_sweep_processes_it_once(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path) -> None:
    settings = dict(database_url=pg_migrated, broker_url=redis_url,
                    inbox_sweep_after=SWEEP_AFTER)
    rt, other = Runtime(Settings(**settings)), Runtime(Settings(**settings))
    received = datetime.now(UTC)
    first = store_hl7(rt, oru("SWP001", "S-1", START, 120), received)
    with stack(pg_migrated, redis_url, tmp_path) as s:
        worker = s.worker(concurrency=2)
        # Younger than SODIUM_INBOX_SWEEP_AFTER: the sweeper leaves it to its own task.
        assert sweep_inbox(rt, now=received + SWEEP_AFTER / 2) == 0
        assert inbox_row(pg_engine, first).state == "pending"
        assert sweep_inbox(rt, now=received + 2 * SWEEP_AFTER) == 1
        wait_for(lambda: inbox_row(pg_engine, first).state == "done", 60, "the swept row")

        # No worker while the two sweeps run: a worker still draining would claim the row
        # first and leave the sweeps nothing to count (the race a loaded machine shows).
        s.stop(worker)
        second = store_hl7(rt, oru("SWP001", "S-2", START + timedelta(hours=20), 130),
                           received)
        barrier = threading.Barrier(2)
        swept: list[int] = []

        def sweep(runtime: Runtime) -> None:
            barrier.wait(timeout=30)
            swept.append(sweep_inbox(runtime, now=received + 2 * SWEEP_AFTER))

        threads = [threading.Thread(target=sweep, args=(r,)) for r in (rt, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(swept) == [1, 1]  # both re-enqueued it: two tasks for one row
        s.worker(concurrency=2)
        wait_for(lambda: inbox_row(pg_engine, second).state == "done", 60,
                 "the doubly swept row")
        wait_for(lambda: queue_idle(redis_url), 60, "the duplicate task")
    for r in (rt, other):
        r.engine.dispose()

    done = inbox_row(pg_engine, second)
    assert (done.state, done.attempts, done.error) == ("done", 1, None)
    with Session(pg_engine) as db:
        assert db.scalar(select(func.count()).select_from(Result)) == 2
        raised = db.scalar(select(func.count()).select_from(AlertEvent)
                           .join(Alert, Alert.id == AlertEvent.alert_id)
                           .where(AlertEvent.action == "raised",
                                  Alert.rule == "OVERCORRECTION_24H"))
    c24 = [a for a in alerts(pg_engine) if a["rule"] == "OVERCORRECTION_24H"]
    assert [(a["patient_id"], a["state"]) for a in c24] == [("SWP001", "active")]
    assert raised == 1
    assert sweep_inbox(Runtime(Settings(**settings)), now=received + 2 * SWEEP_AFTER) == 0
