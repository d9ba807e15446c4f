"""Wake whatever processes the inbox: Celery workers, or a thread in-process.

Workers claim rows from the database in batches (services/evaluation/claims.py); a wake-up
names no row. After a commit the sender asks for a wake-up; the wake-ups asked for within a
few milliseconds go out as one task, so the broker carries one task per batch, not per
result (docs/scaling.md). If the broker is down, the rows stay pending and the scheduler's
sweep sends a wake-up later: a lost task delays a result but never loses it.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.exc import SQLAlchemyError

from monitor.runtime.drain import drain_inbox, run_delivery

if TYPE_CHECKING:
    from monitor.runtime import Runtime

log = logging.getLogger(__name__)
PROCESS_TASK = "sodium.process_inbox"
DELIVER_TASK = "sodium.deliver"
# Two queues, so that a notification channel that hangs (each attempt up to its timeout)
# occupies only the workers of the deliveries queue, never those that process results.
INBOX_QUEUE = "celery"  # Celery's default queue name
DELIVERIES_QUEUE = "deliveries"
QUEUES = (INBOX_QUEUE, DELIVERIES_QUEUE)
# Wake-ups asked for within this long share one task.
COALESCE_S = 0.005
# After a failed send, no send is tried for this long: the rows wait for the sweeper.
BREAK_S = 5.0


class Dispatcher(Protocol):
    def process(self, inbox_id: int | None = None) -> None: ...

    def deliver(self, delivery_id: int) -> None: ...


class InProcessDispatcher:
    """Embedded mode: one background thread, so SQLite sees one writer at a time."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox")
        self._senders = ThreadPoolExecutor(max_workers=2, thread_name_prefix="deliver")
        self._lock = threading.Lock()
        self._queued = False

    def process(self, inbox_id: int | None = None) -> None:
        with self._lock:
            if self._queued:
                return  # a drain not yet started will see this row too
            self._queued = True
        self._pool.submit(self._run)

    def deliver(self, delivery_id: int) -> None:
        # A separate thread: a slow webhook must not hold up the next result.
        self._senders.submit(run_delivery, self._rt, delivery_id)

    def _run(self) -> None:
        with self._lock:
            self._queued = False
        try:
            drain_inbox(self._rt)
        except SQLAlchemyError:
            log.warning("inbox left pending for the sweeper")

    def drain(self) -> None:
        self._pool.shutdown(wait=True)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox")


class CeleryDispatcher:
    """Sends by task name, so the monitor package never imports `workers`. Wake-ups asked
    for within COALESCE_S go out as one task, sent after the last of them.

    `process` only raises a flag (the queue of wake-ups holds one), so the thread that
    committed the inbox, and the ACK behind it, never waits on the broker. A failed send
    opens a circuit for `break_s`: sends in that time are skipped, not tried (each would
    wait for the broker's connect timeout), and the sweeper re-enqueues the pending rows.
    """

    def __init__(self, broker_url: str, break_s: float = BREAK_S) -> None:
        from celery import Celery

        self._app = Celery("sodium_monitor_sender", broker=broker_url)
        # Kombu producers are not thread-safe, and the listener enqueues from a thread pool.
        self._lock = threading.Lock()
        self._wake = threading.Condition()
        self._asked = False
        self.break_s = break_s
        self._open_until = 0.0  # time.monotonic() before which no send is tried
        self.attempts = self.skipped = 0  # sends tried; sends skipped with the circuit open
        self._app.conf.update(task_serializer="json", accept_content=["json"],
                              broker_connection_timeout=2, broker_connection_max_retries=0)
        threading.Thread(target=self._waker, name="inbox-wake", daemon=True).start()

    def process(self, inbox_id: int | None = None) -> None:
        with self._wake:
            self._asked = True
            self._wake.notify()

    def deliver(self, delivery_id: int) -> None:
        self._send(DELIVER_TASK, [delivery_id], DELIVERIES_QUEUE)

    def _waker(self) -> None:
        while True:
            with self._wake:
                while not self._asked:
                    self._wake.wait()
            time.sleep(COALESCE_S)  # let the commits of the same moment join this task
            with self._wake:
                self._asked = False
            self._send(PROCESS_TASK, [], INBOX_QUEUE)

    @property
    def circuit_open(self) -> bool:
        return time.monotonic() < self._open_until

    def _send(self, task: str, args: list[int], queue: str) -> None:
        if self.circuit_open:
            self.skipped += 1
            return
        try:
            with self._lock:
                self.attempts += 1
                self._app.send_task(task, args=args, queue=queue, retry=False)
        except Exception as error:  # broker down: the scheduler's sweeps pick it up
            self._open_until = time.monotonic() + self.break_s
            log.warning("could not enqueue %s %s (%s); the sweeper will; no enqueue for "
                        "%.0f s", task, args, type(error).__name__, self.break_s)
