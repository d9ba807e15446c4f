"""The persist-first inbox: every payload is committed before it is acknowledged."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, update

from monitor.ingest.events import Item, MergeEvent, Reject, ResultEvent
from monitor.services.limits import REJECT_POSITION, storable_text, unstorable
from monitor.storage.repos.common import insert_ignore
from monitor.storage.tables import Feed, InboxItem, InboxPatient, RejectRow
from monitor.storage.uow import UnitOfWork

# A collection time this far after receipt is a clock error, not a result.
CLOCK_TOLERANCE = timedelta(hours=1)


def screen(items: Iterable[Item], received_at: datetime, fmt: str | None = None) -> list[Item]:
    """Turn what cannot be stored (services.limits) and results collected in the future
    (beyond the tolerance) into rejects; `fmt` names the fields in the sender's terms."""
    out: list[Item] = []
    for item in items:
        if isinstance(item, Reject):
            out.append(item)
        elif (problem := unstorable(item, fmt)) is not None:
            raw = item.value_raw if isinstance(item, ResultEvent) else ""
            out.append(Reject(item.position, problem, raw))
        elif isinstance(item, ResultEvent) and item.collected_at > received_at + CLOCK_TOLERANCE:
            out.append(Reject(item.position, f"collection time {item.collected_at.isoformat()} "
                              "is more than 1 h after receipt (clock error)", item.value_raw))
        else:
            out.append(item)
    return out


def _touch_feed(uow: UnitOfWork, feed: str, kind: str, now: datetime) -> None:
    insert_ignore(uow.session, Feed.__table__,  # type: ignore[arg-type]
                  {"name": feed, "kind": kind, "created_at": now}, ["name"])
    uow.session.execute(update(Feed).where(Feed.name == feed).values(last_message_at=now))


def record_rejects(uow: UnitOfWork, rejects: Iterable[Reject], source: str,
                   inbox_id: int | None, now: datetime) -> None:
    for r in rejects:
        # PostgreSQL text cannot hold NUL; garbage on the wire may contain it, and a position
        # quotes MSH-10, which may be longer than the column.
        uow.session.add(RejectRow(inbox_id=inbox_id, source=source,
                                  position=storable_text(r.position, REJECT_POSITION),
                                  reason=storable_text(r.reason),
                                  payload=storable_text(r.payload), created_at=now))


def patient_keys(items: Iterable[Item]) -> set[str]:
    keys: set[str] = set()
    for item in items:
        if isinstance(item, MergeEvent):
            keys |= {str(item.survivor), str(item.old)}
        elif not isinstance(item, Reject):
            keys.add(str(item.patient))
    return keys


def receive(uow: UnitOfWork, fmt: str, feed: str, payload: bytes, now: datetime, *,
            items: Iterable[Item], message_id: str | None = None) -> int:
    """Commit a payload, the patients it concerns and the rejects found in it to the inbox;
    returns its id, which is also its place in the arrival order."""
    items = list(items)
    item = InboxItem(format=fmt, feed=feed, message_id=message_id, payload=payload,
                     received_at=now, state="pending", attempts=0)
    uow.session.add(item)
    uow.session.flush()
    uow.session.add_all(InboxPatient(inbox_id=item.id, patient_key=key)
                        for key in sorted(patient_keys(items)))
    record_rejects(uow, [i for i in items if isinstance(i, Reject)], feed, item.id, now)
    _touch_feed(uow, feed, fmt, now)
    uow.commit()
    return item.id


def reject_payload(uow: UnitOfWork, feed: str, kind: str, position: str, reason: str,
                   payload: str, now: datetime) -> None:
    """A whole payload refused on content: stored in rejects (never dropped silently)."""
    record_rejects(uow, [Reject(position, reason, payload)], feed, None, now)
    _touch_feed(uow, feed, kind, now)
    uow.commit()


def stale_pending(uow: UnitOfWork, older_than: timedelta, now: datetime,
                  limit: int = 1000) -> list[int]:
    """Inbox rows still pending after `older_than`: their task was lost or is late."""
    return list(uow.session.scalars(
        select(InboxItem.id).where(InboxItem.state == "pending",
                                   InboxItem.received_at < now - older_than)
        .order_by(InboxItem.id).limit(limit)))
