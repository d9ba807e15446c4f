"""Rejects: list them, and retry one after a mapping or unit fix."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from monitor.ingest.events import Reject, UnmappedCode
from monitor.services.intake.backfill import IN_CHUNK
from monitor.services.intake.feeds import refused_for_authority
from monitor.services.intake.hl7 import receive_hl7
from monitor.services.intake.inbox import receive, reject_payload, screen
from monitor.services.intake.pipeline import Pipeline, parse_payload
from monitor.storage.tables import InboxItem, RejectRow
from monitor.storage.uow import UnitOfWork

_KINDS = {"hl7": "hl7", "fhir": "fhir", "json": "json", "csv": "csv", "import": "csv"}


def latest_rejects(uow: UnitOfWork, limit: int = 100) -> list[RejectRow]:
    """The newest rejects first."""
    return list(uow.session.scalars(
        select(RejectRow).order_by(RejectRow.id.desc()).limit(limit)))


def list_rejects(uow: UnitOfWork, limit: int = 100) -> Iterator[dict[str, Any]]:
    for r in latest_rejects(uow, limit):
        yield {"id": r.id, "created_at": r.created_at.isoformat(), "source": r.source,
               "position": r.position, "reason": r.reason, "inbox_id": r.inbox_id,
               "retried_at": r.retried_at.isoformat() if r.retried_at else None}


def reject_detail(uow: UnitOfWork, reject_id: int) -> dict[str, Any] | None:
    """One reject with the raw payload it holds, its HL7 segments one to a line."""
    r = uow.session.get(RejectRow, reject_id)
    if r is None:
        return None
    # HL7 separates segments with a bare CR, which a browser does not break a line at.
    text = r.payload.replace("\r\n", "\n").replace("\r", "\n")
    return {"id": r.id, "created_at": r.created_at, "source": r.source,
            "position": r.position, "reason": r.reason, "inbox_id": r.inbox_id,
            "retried_at": r.retried_at, "payload": text}


def rejects_of(uow: UnitOfWork, inbox_ids: list[int]) -> Iterator[RejectRow]:
    """The rejects found in these inbox rows, in arrival and file order."""
    for i in range(0, len(inbox_ids), IN_CHUNK):
        yield from uow.session.scalars(select(RejectRow).where(
            RejectRow.inbox_id.in_(inbox_ids[i:i + IN_CHUNK])).order_by(RejectRow.id))


@dataclass(frozen=True)
class Retry:
    outcome: str  # accepted / rejected-again
    inbox_id: int | None
    detail: str


def retry_reject(uow: UnitOfWork, reject_id: int, p: Pipeline,
                 now: datetime) -> Retry:
    """Send a rejected payload through the receive path again (the whole message when the
    reject was one result of an accepted message: the accepted ones change nothing)."""
    with uow:
        row = uow.session.get(RejectRow, reject_id)
        if row is None:
            raise LookupError(f"no reject with id {reject_id}")
        source = row.source
        if refused_for_authority(source, row.reason):
            return Retry("rejected-again", None, "not retried: refused for its sender, not "
                         "its content; bind the feed or grant the permission (sodium-monitor "
                         "feeds add) and have the sender resend it")
        if row.inbox_id is not None:
            original = uow.session.get(InboxItem, row.inbox_id)
            assert original is not None
            fmt, payload = original.format, original.payload.decode("utf-8", errors="replace")
        else:
            fmt, payload = _KINDS.get(source.split(":")[0], "hl7"), row.payload
    if fmt == "hl7":
        reply = receive_hl7(uow, payload, source, p, now)
        inbox_id, detail = reply.inbox_id, reply.code
    else:
        items = screen(parse_payload(fmt, payload.encode(), source, p), now, fmt)
        refused = [i for i in items if isinstance(i, Reject)]
        if any(not isinstance(i, Reject | UnmappedCode) for i in items):
            with uow:
                inbox_id = receive(uow, fmt, source, payload.encode(), now, items=items)
            detail = "stored"
        else:  # still nothing usable: rejected again, like a live payload would be
            detail = "no usable item: " + "; ".join(r.reason for r in refused)
            with uow:
                reject_payload(uow, source, fmt, f"retry of reject {reject_id}", detail,
                               payload, now)
            inbox_id = None
    with uow:
        row = uow.session.get(RejectRow, reject_id)
        assert row is not None
        row.retried_at, row.retry_inbox_id = now, inbox_id
        uow.commit()
    return Retry("accepted" if inbox_id else "rejected-again", inbox_id, detail)
