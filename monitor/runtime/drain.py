"""Wake whatever processes the inbox: Celery workers, or a thread in-process.

Workers claim rows from the database in batches (services/evaluation/claims.py); a wake-up names no
row. After a commit the sender asks for a wake-up; the wake-ups asked for within a few
milliseconds go out as one task, so the broker carries one task per batch, not per result
(docs/scaling.md). If the broker is down, the rows stay pending and the scheduler's sweep
sends a wake-up later: a lost task delays a result but never loses it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from monitor.notify.sender import send
from monitor.services.evaluation.claims import (
    BATCH_SIZE,
    Claimed,
    claim,
    count_retries,
    note_failure,
    park,
)
from monitor.services.evaluation.processing import Outcome, process_rows
from monitor.storage.tables import InboxItem

if TYPE_CHECKING:
    from monitor.runtime import Runtime

log = logging.getLogger(__name__)
# A task keeps claiming batches until the inbox is empty or this long has passed (well
# inside the task's 30 s soft time limit), so a backlog is drained by few tasks.
TASK_BUDGET_S = 10.0
# Under a steady stream a batch finds only the few rows that arrived while the previous
# one was processed; pausing this long after a small batch lets the next one gather more,
# so the per-batch statements and commits are shared by more results (a few ms of latency
# against the 1 s target; an idle inbox ends the drain at once).
LINGER_S = 0.02
SMALL_BATCH = 50

def retryable(error: BaseException) -> bool:
    """Operational errors (connection lost, database restarting, serialization failure,
    deadlock) are worth retrying; a data error is not: the same row fails the same way."""
    if isinstance(error, OperationalError):
        return True
    if isinstance(error, DBAPIError):
        code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        return bool(code) and str(code)[:2] in ("40", "08", "57", "53")
    return False


@dataclass
class Drained:
    batches: int = 0
    done: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def run_batch(rt: Runtime, only: list[int] | None = None, now: datetime | None = None,
              into: Drained | None = None) -> int:
    """Claim one batch and process it; returns how many rows were claimed."""
    at = now or datetime.now(UTC)
    into = into if into is not None else Drained()
    with rt.uow() as uow:
        rows = claim(uow, at, BATCH_SIZE, only)
    if not rows:
        return 0
    into.batches += 1
    # A row claimed before without being finished (its batch died with its worker, or kept
    # failing) goes alone: only a row that really kills its worker uses up its attempts,
    # never the rest of the batch it came with.
    fresh = [r for r in rows if r.attempts <= 1]
    alone = [r for r in rows if r.attempts > 1]
    outcome = Outcome()
    if fresh:
        try:
            outcome = _commit(rt, fresh, at)
        except Exception as error:
            if isinstance(error, SQLAlchemyError) and retryable(error):
                raise  # the rows keep their lease, then are claimed again
            log.warning("batch of %d failed (%s); processing its rows one by one",
                        len(fresh), type(error).__name__, exc_info=True)
            alone = fresh + alone
            with rt.uow() as uow:
                count_retries(uow, len(fresh))
                uow.commit()
    for row in alone:
        _alone(rt, row, at, outcome)
    into.done += outcome.done
    into.failed += outcome.failed
    # Deferred rows count as work: the drain goes on (after its pause) until the worker
    # holding their patient has committed, instead of leaving them to the sweeper.
    return len(rows)


def _commit(rt: Runtime, rows: list[Claimed], at: datetime) -> Outcome:
    with rt.uow() as uow:
        outcome = process_rows(uow, rows, rt.pipeline, at)
        # Committed first: a notification or live event may then fail without touching the
        # rows (the scheduler's outbox sweep sends what could not be enqueued; a missed
        # live event costs a refresh).
        uow.deliver_on_commit(outcome.deliveries)
        uow.publish_on_commit(outcome.alerts)
        uow.commit()
    return outcome


def _alone(rt: Runtime, row: Claimed, at: datetime, into: Outcome) -> None:
    """One row in its own transaction; if it fails, it is parked (the database refuses
    its content: it always will) or its failure counted towards parking."""
    try:
        done = _commit(rt, [row], at)
    except Exception as error:
        if isinstance(error, SQLAlchemyError) and retryable(error):
            raise
        reason = f"{type(error).__name__}: {error}".splitlines()[0]
        log.warning("inbox %s failed: %s", row.id, reason)
        with rt.uow() as uow:
            if isinstance(error, SQLAlchemyError):
                park(uow, row.id, f"the database refused it: {reason}", at)
                status = "failed"
            else:
                status = note_failure(uow, row.id, reason, at)
            uow.commit()
        if status == "failed":
            into.failed.append(row.id)
        return
    into.done += done.done
    into.failed += done.failed
    into.deferred += done.deferred
    into.deliveries += done.deliveries
    into.alerts += done.alerts


def drain_inbox(rt: Runtime, budget_s: float = TASK_BUDGET_S,
                now: datetime | None = None) -> Drained:
    """Claim and process batches until nothing is claimable (or the budget is spent)."""
    drained = Drained()
    deadline = time.monotonic() + budget_s
    while (claimed := run_batch(rt, None, now, drained)) and time.monotonic() < deadline:
        if claimed < SMALL_BATCH:
            time.sleep(LINGER_S)
    return drained


def run_inbox(rt: Runtime, inbox_id: int, now: datetime | None = None) -> str:
    """Process one row now (with whatever else it takes: its patients' earlier rows go
    first). Returns processed / already-done / failed / pending / missing."""
    with rt.uow() as uow:
        state = uow.session.scalar(select(InboxItem.state).where(InboxItem.id == inbox_id))
    if state is None:
        return "missing"
    if state != "pending":
        return "already-done"
    drained = Drained()
    for _ in range(3):
        run_batch(rt, [inbox_id], now, drained)
        if inbox_id in drained.done:
            return "processed"
        if inbox_id in drained.failed:
            return "failed"
        # Deferred behind an earlier row of its patient: that one goes first.
        run_batch(rt, None, now, drained)
    with rt.uow() as uow:
        state = uow.session.scalar(select(InboxItem.state).where(InboxItem.id == inbox_id))
    return {"done": "processed", "failed": "failed"}.get(state or "", "pending")


def run_delivery(rt: Runtime, delivery_id: int, now: datetime | None = None) -> str:
    """One attempt at one notification (a failed one is retried by the scheduler)."""
    try:
        return send(rt.uow(), delivery_id, rt.settings, now or datetime.now(UTC))
    except Exception:
        log.exception("delivery %s could not be attempted", delivery_id)
        return "error"
