"""The persist-first inbox: every payload is committed before it is acknowledged."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, update

from monitor.ingest import codec
from monitor.ingest.events import Item, Reject, ResultEvent, patients_of
from monitor.services.intake.fhir_identity import resolve_payloads
from monitor.services.intake.limits import REJECT_POSITION, storable_text, unstorable
from monitor.storage.repos.common import insert_ignore
from monitor.storage.tables import Feed, InboxItem, InboxPatient, RejectRow
from monitor.storage.uow import UnitOfWork

# The receive path writes rows with Core statements, one per table: no ORM objects.
INBOX, INBOX_PATIENTS, REJECTS, FEEDS = (
    cast(Table, t.__table__) for t in (InboxItem, InboxPatient, RejectRow, Feed))

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


class FeedLiveness:
    """Writes `feeds.last_message_at` at most once per `every` per feed in this process: a
    busy feed would otherwise update its one row with every message (a hot row that
    serialises the listener's transactions). The row is inserted when first seen."""

    def __init__(self, every: timedelta = timedelta(seconds=1)) -> None:
        self.every = every
        self._written: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def due(self, feeds: Iterable[str], now: datetime) -> tuple[set[str], set[str]]:
        """(feeds seen for the first time, feeds whose liveness is due)."""
        with self._lock:
            last = {feed: self._written.get(feed) for feed in set(feeds)}
        new = {feed for feed, at in last.items() if at is None}
        return new, {feed for feed, at in last.items() if at is None or now - at >= self.every}

    def written(self, feeds: Iterable[str], now: datetime) -> None:
        with self._lock:
            self._written.update(dict.fromkeys(feeds, now))


def _touch_feeds(uow: UnitOfWork, feeds: dict[str, str], now: datetime,
                 liveness: FeedLiveness | None) -> None:
    """Register unknown feeds and mark them alive; `feeds` maps each name to its kind."""
    new, due = liveness.due(feeds, now) if liveness else (set(feeds), set(feeds))
    for name in sorted(new):
        insert_ignore(uow.session, FEEDS, {"name": name, "kind": feeds[name],
                                           "created_at": now}, ["name"])
    if due:
        uow.session.execute(update(FEEDS).where(FEEDS.c.name.in_(sorted(due)))
                            .values(last_message_at=now))
        if liveness is not None:
            uow.on_commit(lambda: liveness.written(due, now))


def _reject_rows(rejects: Iterable[Reject], source: str, inbox_id: int | None,
                 now: datetime) -> list[dict[str, Any]]:
    # PostgreSQL text cannot hold NUL; garbage on the wire may contain it, and a position
    # quotes MSH-10, which may be longer than the column.
    return [{"inbox_id": inbox_id, "source": source,
             "position": storable_text(r.position, REJECT_POSITION),
             "reason": storable_text(r.reason), "payload": storable_text(r.payload),
             "created_at": now} for r in rejects]


def record_rejects(uow: UnitOfWork, rejects: Iterable[Reject], source: str,
                   inbox_id: int | None, now: datetime) -> None:
    rows = _reject_rows(rejects, source, inbox_id, now)
    if rows:
        uow.session.execute(insert(REJECTS).values(rows))


def patient_keys(items: Iterable[Item]) -> set[str]:
    return {str(ref) for ref in patients_of(items)}


@dataclass(frozen=True)
class Arrival:
    """One payload to commit: to the inbox with its patients and the rejects found in it,
    or, when `refused` is set, only as that reject (its content cannot be used)."""

    fmt: str
    feed: str
    payload: bytes
    received_at: datetime
    items: Sequence[Item] = ()
    message_id: str | None = None
    refused: Reject | None = None

    def rejects(self) -> list[Reject]:
        return [self.refused] if self.refused else [i for i in self.items if isinstance(i, Reject)]


def store(uow: UnitOfWork, arrivals: Sequence[Arrival], now: datetime,
          liveness: FeedLiveness | None = None) -> list[int | None]:
    """Write a group of arrivals with one Core statement per table, without committing;
    returns each one's inbox id, which is also its place in the arrival order (None when
    refused)."""
    arrivals = _identified(uow, arrivals)
    kept = [a for a in arrivals if a.refused is None]
    ids: list[int | None] = [None] * len(arrivals)
    if kept:
        # A multi-row VALUES, not insert_rows' arrays: the payloads and parsed items are long
        # texts that an array parameter would have to escape (measured dearer here).
        new = iter(uow.session.scalars(
            insert(INBOX).returning(INBOX.c.id, sort_by_parameter_order=True),
            [{"format": a.fmt, "feed": a.feed, "message_id": a.message_id, "payload": a.payload,
              "items": codec.dump(a.items), "received_at": a.received_at, "state": "pending",
              "attempts": 0} for a in kept]))
        ids = [None if a.refused else next(new) for a in arrivals]
    patients = [{"inbox_id": inbox_id, "patient_key": key}
                for a, inbox_id in zip(arrivals, ids, strict=True) if inbox_id is not None
                for key in sorted(patient_keys(a.items))]
    if patients:
        uow.session.execute(insert(INBOX_PATIENTS).values(patients))  # one multi-row INSERT
    rejects = [row for a, inbox_id in zip(arrivals, ids, strict=True)
               for row in _reject_rows(a.rejects(), a.feed, inbox_id, now)]
    if rejects:
        uow.session.execute(insert(REJECTS).values(rejects))
    _touch_feeds(uow, {a.feed: a.fmt for a in arrivals}, now, liveness)
    return ids


def _identified(uow: UnitOfWork, arrivals: Sequence[Arrival]) -> Sequence[Arrival]:
    """FHIR payloads with their "Patient/{id}" references resolved through the Patients
    seen before, so the inbox orders them with the patient's other rows."""
    fhir = [i for i, a in enumerate(arrivals) if a.fmt == "fhir" and a.items]
    if not fhir:
        return arrivals
    resolved = resolve_payloads(uow.session, [arrivals[i].items for i in fhir])
    out = list(arrivals)
    for i, items in zip(fhir, resolved, strict=True):
        out[i] = dataclasses.replace(arrivals[i], items=items)
    return out


def receive(uow: UnitOfWork, fmt: str, feed: str, payload: bytes, now: datetime, *,
            items: Iterable[Item], message_id: str | None = None) -> int:
    """Commit a payload, the patients it concerns and the rejects found in it to the inbox;
    returns its id, which is also its place in the arrival order."""
    [inbox_id] = store(uow, [Arrival(fmt, feed, payload, now, list(items), message_id)], now)
    uow.commit()
    assert inbox_id is not None
    return inbox_id


def reject_payload(uow: UnitOfWork, feed: str, kind: str, position: str, reason: str,
                   payload: str, now: datetime) -> None:
    """A whole payload refused on content: stored in rejects (never dropped silently)."""
    store(uow, [Arrival(kind, feed, b"", now, refused=Reject(position, reason, payload))], now)
    uow.commit()
