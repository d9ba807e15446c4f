"""Workers claim inbox rows by lease, in batches, oldest first.

A claim is its own short transaction: it leases the rows (`lease_until`) and counts an
attempt. Rows leased by another worker are skipped (`FOR UPDATE SKIP LOCKED` while
claiming, the lease after), so any number of workers on any number of hosts share the
inbox; a worker that dies leaves its lease to expire, and a row that was claimed
MAX_ATTEMPTS times without being finished (it kills its worker, or keeps failing) is parked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update

from monitor.storage.repos import counters
from monitor.storage.repos.common import among
from monitor.storage.tables import InboxItem, InboxPatient, RejectRow
from monitor.storage.uow import UnitOfWork

# Longer than a batch ever takes (the task time limit is 60 s): a live lease is never
# taken over, and a dead worker's rows wait at most this long.
LEASE = timedelta(seconds=90)
MAX_ATTEMPTS = 5
BATCH_SIZE = 200


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    format: str
    feed: str
    payload: bytes
    received_at: datetime
    attempts: int
    items: dict[str, Any] | None = None  # what the intake parsed (monitor.ingest.codec)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return and_(InboxItem.state == "pending",
                or_(InboxItem.lease_until.is_(None), InboxItem.lease_until < now))


def claim(uow: UnitOfWork, now: datetime, limit: int = BATCH_SIZE,
          only: Iterable[int] | None = None) -> list[Claimed]:
    """Lease up to `limit` claimable rows (of `only`, when given), oldest first."""
    s = uow.session
    q = select(InboxItem.id, InboxItem.attempts, InboxItem.lease_until).where(_claimable(now))
    if only is not None:
        q = q.where(among(s, InboxItem.id, list(only)))
    picked = s.execute(q.order_by(InboxItem.id).limit(limit)
                       .with_for_update(skip_locked=True)).all()
    if not picked:
        uow.commit()
        return []
    ids = [p.id for p in picked]
    # A retry: the row was claimed before (its lease was set, by that claim or by
    # note_failure's back-off) and is not being parked now. A released row has no lease: its
    # next claim is no retry, the claim it gave back was counted instead.
    counters.add(s, counters.INBOX_RETRIES, sum(
        1 for p in picked if p.lease_until is not None and 1 <= p.attempts < MAX_ATTEMPTS))
    rows = s.execute(update(InboxItem).where(among(s, InboxItem.id, ids)).values(
        lease_until=now + LEASE, attempts=InboxItem.attempts + 1).returning(
        InboxItem.id, InboxItem.format, InboxItem.feed, InboxItem.payload,
        InboxItem.received_at, InboxItem.attempts, InboxItem.items).execution_options(
        synchronize_session=False)).all()
    worn = [r for r in rows if r.attempts > MAX_ATTEMPTS]
    for r in worn:
        park(uow, r.id, f"claimed {r.attempts - 1} times without finishing (the worker "
             "died or the database failed each time)", now)
    uow.commit()
    claimed = [Claimed(r.id, r.format, r.feed, r.payload, r.received_at, r.attempts, r.items)
               for r in rows if r.attempts <= MAX_ATTEMPTS]
    return sorted(claimed, key=lambda c: c.id)


def release(uow: UnitOfWork, ids: Iterable[int]) -> None:
    """Give rows back unprocessed (another worker holds an earlier row of their patient):
    the claim did not count as an attempt."""
    ids = list(ids)
    if ids:
        uow.session.execute(update(InboxItem).where(among(uow.session, InboxItem.id, ids)).values(
            lease_until=None, attempts=InboxItem.attempts - 1).execution_options(
            synchronize_session=False))


def finish(uow: UnitOfWork, ids: Iterable[int], now: datetime) -> None:
    ids = list(ids)
    if ids:
        uow.session.execute(update(InboxItem).where(among(uow.session, InboxItem.id, ids)).values(
            state="done", processed_at=now, error=None, lease_until=None)
            .execution_options(synchronize_session=False))
        _forget_patients(uow, ids)


def _forget_patients(uow: UnitOfWork, ids: list[int]) -> None:
    """`inbox_patients` lists the patients of rows not yet processed (it finds a patient's
    earlier pending rows): a finished row leaves it, so the look-up stays as small as the
    backlog, not as large as the patient's history."""
    uow.session.execute(delete(InboxPatient).where(among(uow.session, InboxPatient.inbox_id, ids))
                        .execution_options(synchronize_session=False))


def park(uow: UnitOfWork, inbox_id: int, reason: str, now: datetime) -> None:
    """Terminal: the row is `failed` with its reason and a reject row; it never blocks the
    patient's later rows and is never retried by itself (`rejects retry` can)."""
    s = uow.session
    item = s.get(InboxItem, inbox_id)
    if item is None or item.state != "pending":
        return
    item.state, item.error, item.lease_until = "failed", reason[:2000], None
    _forget_patients(uow, [inbox_id])
    s.add(RejectRow(inbox_id=item.id, source=item.feed, position=f"inbox:{item.id}",
                    reason=f"processing failed: {reason}"[:4000],
                    payload=item.payload.decode("utf-8", errors="replace")
                    .replace("\x00", "\\x00"), created_at=now))


def note_failure(uow: UnitOfWork, inbox_id: int, error: str, now: datetime) -> str:
    """A row failed alone: record why; park it once it has used its attempts."""
    s = uow.session
    item = s.get(InboxItem, inbox_id)
    if item is None or item.state != "pending":
        return "already-done"
    if item.attempts >= MAX_ATTEMPTS:
        park(uow, inbox_id, f"failed {item.attempts} times: {error}", now)
        return "failed"
    # Back off (2, 4, 8, 16 s): a failure that passes (a restarting dependency) is not
    # spent in one burst of attempts.
    item.error, item.lease_until = error[:2000], now + timedelta(seconds=2 ** item.attempts)
    return "retry"


def count_retries(uow: UnitOfWork, n: int) -> None:
    """Count `n` rows attempted again without a new claim (alone, after their batch failed)."""
    counters.add(uow.session, counters.INBOX_RETRIES, n)


def pending_count(uow: UnitOfWork, older_than: timedelta, now: datetime) -> int:
    """Claimable rows received more than `older_than` ago: their wake-up was lost or late."""
    return uow.session.scalar(select(func.count()).select_from(InboxItem).where(
        _claimable(now), InboxItem.received_at < now - older_than)) or 0
