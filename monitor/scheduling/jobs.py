"""Timed jobs. Each is safe with two scheduler processes running at once: re-enqueueing an
inbox row twice is harmless because processing claims the row under a lock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from monitor.notify.sender import due, mark_queued
from monitor.runtime import Runtime
from monitor.services.access.throttle import forget_idle
from monitor.services.alerting.escalate import escalate_due, expire_shelves
from monitor.services.alerting.watch import check_feeds, check_overdue
from monitor.services.evaluation.claims import pending_count
from monitor.storage.repos.common import dialect_insert
from monitor.storage.statistics import refresh_statistics
from monitor.storage.tables import Heartbeat

log = logging.getLogger(__name__)


def sweep_inbox(rt: Runtime, now: datetime | None = None) -> int:
    """Wake the workers when rows claimable by nobody are older than
    SODIUM_INBOX_SWEEP_AFTER (default 30 s): their wake-up was lost (broker down) or their
    worker died (its lease expired). One wake-up, whatever the backlog: the workers claim
    the rows; rows leased to a live worker or parked are not claimable. Returns the count."""
    now = now or datetime.now(UTC)
    with rt.uow() as uow:
        stale = pending_count(uow, rt.settings.inbox_sweep_after, now)
    if stale:
        rt.dispatcher.process()
        log.info("%d inbox rows waiting: woke the workers", stale)
    return stale


def heartbeat(rt: Runtime, name: str = "scheduler", now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    with rt.uow() as uow:
        statement = dialect_insert(uow.session)(Heartbeat).values(name=name, beat_at=now)
        uow.session.execute(statement.on_conflict_do_update(
            index_elements=["name"], set_={"beat_at": now}))
        uow.commit()


def planner_statistics(rt: Runtime) -> list[str]:
    """Re-analyse the tables that grew fast (PostgreSQL); see monitor/storage/statistics."""
    with rt.uow() as uow:
        analysed = refresh_statistics(uow.session)
    if analysed:
        log.info("planner statistics refreshed: %s", ", ".join(analysed))
    return analysed


def alerting(rt: Runtime, now: datetime | None = None) -> None:
    """Escalations and repeats, shelf expiry, overdue measurements, silent feeds; then the
    notifications they wrote and the outbox retries that are due are queued for sending."""
    now = now or datetime.now(UTC)
    escalate_due(rt.uow(), now)
    expire_shelves(rt.uow(), now)
    check_overdue(rt.uow(), rt.pipeline.policy, now, rt.settings.notify_max_age)
    check_feeds(rt.uow(), now)
    queue_due(rt, now)


def queue_due(rt: Runtime, now: datetime | None = None) -> int:
    """Hand every delivery that is due (new, a retry past its back-off, one whose task was
    lost) to the deliveries queue, never sending here: a channel that hangs until its
    timeout must not hold up the escalations of the next run. Returns how many."""
    now = now or datetime.now(UTC)
    with rt.uow() as uow:
        ids = mark_queued(uow, due(uow, now), now)
        uow.deliver_on_commit(ids)
        uow.commit()
    return len(ids)


def housekeeping(rt: Runtime, now: datetime | None = None) -> None:
    """Hourly: forget the sign-in failures of addresses and usernames idle for 24 h."""
    now = now or datetime.now(UTC)
    forgotten = forget_idle(rt.uow(), now)
    if forgotten:
        log.info("forgot the sign-in failures of %d idle addresses and usernames", forgotten)
