"""Hand an inbox row to whatever processes it: Celery workers, or a thread in-process.

Enqueueing happens after commit and after the sender has its acknowledgement; if it fails
(broker down) the row stays pending and the sweeper re-enqueues it, so a lost task delays a
result but never loses it.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from monitor.notify.sender import send
from monitor.services.processing import process_inbox_item
from monitor.storage.tables import InboxItem, RejectRow

if TYPE_CHECKING:
    from monitor.runtime import Runtime

log = logging.getLogger(__name__)
PROCESS_TASK = "sodium.process_inbox"
DELIVER_TASK = "sodium.deliver"
MAX_ATTEMPTS = 5


class Dispatcher(Protocol):
    def process(self, inbox_id: int) -> None: ...

    def deliver(self, delivery_id: int) -> None: ...


def run_inbox(rt: Runtime, inbox_id: int, now: datetime | None = None) -> str:
    """Process one inbox row; a payload that keeps failing is parked as a reject. The
    notifications it raised go out at once (the first one is never held back)."""
    try:
        with rt.uow() as uow:
            done = process_inbox_item(uow, inbox_id, rt.pipeline, now or datetime.now(UTC))
    except SQLAlchemyError:
        raise  # the database is unreachable or busy: retry later, the row stays pending
    except Exception as error:
        log.exception("processing inbox %s failed", inbox_id)
        _record_failure(rt, inbox_id, error, now or datetime.now(UTC))
        return "failed"
    # Committed: what follows may fail without touching the row (the scheduler's outbox
    # sweep sends what could not be enqueued; a missed live event costs a refresh).
    for delivery_id in done.deliveries:
        rt.dispatcher.deliver(delivery_id)
    if done.alerts:
        rt.hub.publish({"alerts": sorted(set(done.alerts))})
    return done.status


def run_delivery(rt: Runtime, delivery_id: int, now: datetime | None = None) -> str:
    """One attempt at one notification (a failed one is retried by the scheduler)."""
    try:
        return send(rt.uow, delivery_id, rt.settings, now or datetime.now(UTC))
    except Exception:
        log.exception("delivery %s could not be attempted", delivery_id)
        return "error"


def _record_failure(rt: Runtime, inbox_id: int, error: Exception, now: datetime) -> None:
    with rt.uow() as uow:
        item = uow.session.scalar(select(InboxItem).where(InboxItem.id == inbox_id))
        if item is None:
            return
        item.attempts += 1
        item.error = f"{type(error).__name__}: {error}"[:2000]
        if item.attempts >= MAX_ATTEMPTS:
            item.state = "failed"
            uow.session.add(RejectRow(
                inbox_id=item.id, source=item.feed, position=f"inbox:{item.id}",
                reason=f"processing failed {item.attempts} times: {item.error}",
                payload=item.payload.decode("utf-8", errors="replace"), created_at=now))
        uow.commit()


class InProcessDispatcher:
    """Embedded mode: one background thread, so SQLite sees one writer at a time."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox")
        self._senders = ThreadPoolExecutor(max_workers=2, thread_name_prefix="deliver")

    def process(self, inbox_id: int) -> None:
        self._pool.submit(self._run, inbox_id)

    def deliver(self, delivery_id: int) -> None:
        # A separate thread: a slow webhook must not hold up the next result.
        self._senders.submit(run_delivery, self._rt, delivery_id)

    def _run(self, inbox_id: int) -> None:
        try:
            run_inbox(self._rt, inbox_id)
        except SQLAlchemyError:
            log.warning("inbox %s left pending for the sweeper", inbox_id)

    def drain(self) -> None:
        self._pool.shutdown(wait=True)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox")


class CeleryDispatcher:
    """Sends by task name, so the monitor package never imports `workers`."""

    def __init__(self, broker_url: str) -> None:
        from celery import Celery

        self._app = Celery("sodium_monitor_sender", broker=broker_url)
        # Kombu producers are not thread-safe, and the listener enqueues from a thread pool:
        # unserialised sends were seen to lose a task now and then.
        self._lock = threading.Lock()
        self._app.conf.update(task_serializer="json", accept_content=["json"],
                              broker_connection_timeout=2, broker_connection_max_retries=0)

    def process(self, inbox_id: int) -> None:
        self._send(PROCESS_TASK, inbox_id)

    def deliver(self, delivery_id: int) -> None:
        self._send(DELIVER_TASK, delivery_id)

    def _send(self, task: str, row_id: int) -> None:
        try:
            with self._lock:
                self._app.send_task(task, args=[row_id], retry=False)
        except Exception as error:  # broker down: the scheduler's sweeps pick it up
            log.warning("could not enqueue %s %s (%s); the sweeper will", task, row_id,
                        type(error).__name__)
