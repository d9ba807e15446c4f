"""Celery tasks: each a few lines that hand an id to a service."""

from __future__ import annotations

from functools import cache

import redis
from sqlalchemy.exc import SQLAlchemyError

from monitor.config import get_settings
from monitor.runtime import Runtime
from monitor.runtime.dispatchers import DELIVER_TASK, PROCESS_TASK
from monitor.runtime.drain import drain_inbox, run_delivery
from workers.celery_app import app


@cache
def runtime() -> Runtime:
    return Runtime(get_settings())


@app.task(name=PROCESS_TASK, bind=True, max_retries=5)
def process_inbox(self, inbox_id: int | None = None) -> int:  # type: ignore[no-untyped-def]
    """Claim and process inbox batches until the inbox is empty (the task names no row:
    rows are claimed from the database). The database unreachable: try again shortly."""
    try:
        return len(drain_inbox(runtime()).done)
    except SQLAlchemyError as error:
        # A short, bounded back-off (not an ETA timer): the sweeper covers longer outages.
        raise self.retry(exc=error, countdown=min(2 ** self.request.retries, 30)) from None


@app.task(name=DELIVER_TASK)
def deliver(delivery_id: int) -> str:
    """Send one notification; failures are retried by the scheduler with back-off."""
    return run_delivery(runtime(), delivery_id)


@app.task(name="sodium.ping")
def ping(reply_key: str, reply_url: str) -> None:
    """Round trip for `sodium-monitor check` and the tests: writes a key back to Redis."""
    client = redis.Redis.from_url(reply_url)
    client.set(reply_key, "pong", ex=60)
    client.close()
