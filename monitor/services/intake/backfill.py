"""`sodium-monitor import`: recorded feeds through the same inbox -> worker path.

A file is cut into inbox rows the way a live feed would send it: one HL7 message, or a
chunk of CSV rows / NDJSON lines. Imported alerts are recorded and shown, never paged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from monitor.ingest.hl7_fields import split_messages
from monitor.storage.tables import Alert, InboxItem, RejectRow, Result
from monitor.storage.uow import UnitOfWork

CHUNK = 500
IN_CHUNK = 1000  # ids per IN list: well under every driver's parameter limit


def chunks(fmt: str, text: str, size: int = CHUNK) -> Iterator[tuple[str, str]]:
    """(position, payload) pieces of a file, in file order; `size` CSV rows or NDJSON
    lines per piece."""
    if fmt == "hl7":
        for message in split_messages(text):
            yield f"line {message.lines[0] if message.lines else 1}", message.text
        return
    lines = text.splitlines(keepends=True)
    if fmt == "csv":
        header, rows = lines[:1], lines[1:]
        for i in range(0, len(rows), size):
            yield f"line {i + 2}", "".join(header + rows[i : i + size])
        return
    stripped = [line for line in lines if line.strip()]
    if len(stripped) > 1 and stripped[0].lstrip().startswith("{") and \
            stripped[0].rstrip().endswith("}"):
        for i in range(0, len(lines), size):
            yield f"line {i + 1}", "".join(lines[i : i + size])
        return
    yield "line 1", text


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did, counted from what was stored (not from what was parsed): the
    integration engineer compares these with the file."""

    payloads: int
    results: int
    rejects: int
    alerts: int
    pending: int  # rows the workers have not processed yet
    failed: int  # rows parked with their error (`rejects list`, the admin page)


def import_outcome(uow: UnitOfWork, inbox_ids: Sequence[int], refused: int = 0
                   ) -> ImportOutcome:
    """Counts for the inbox rows an import stored; `refused`: whole files refused before
    they reached the inbox (their reject rows carry no inbox row)."""
    s = uow.session
    results = rejects = alerts = pending = failed = 0
    for i in range(0, len(inbox_ids), IN_CHUNK):
        ids = list(inbox_ids[i:i + IN_CHUNK])
        results += s.scalar(select(func.count()).select_from(Result)
                            .where(Result.inbox_id.in_(ids))) or 0
        rejects += s.scalar(select(func.count()).select_from(RejectRow)
                            .where(RejectRow.inbox_id.in_(ids))) or 0
        alerts += s.scalar(select(func.count()).select_from(Alert).join(
            Result, Result.id == Alert.triggering_result_id).where(
            Result.inbox_id.in_(ids))) or 0
        for state, n in s.execute(select(InboxItem.state, func.count()).where(
                InboxItem.id.in_(ids)).group_by(InboxItem.state)):
            pending += n if state == "pending" else 0
            failed += n if state == "failed" else 0
    return ImportOutcome(len(inbox_ids), results, rejects + refused, alerts, pending, failed)


def still_pending(uow: UnitOfWork, inbox_ids: Sequence[int]) -> int:
    return sum(uow.session.scalar(select(func.count()).select_from(InboxItem).where(
        InboxItem.id.in_(list(inbox_ids[i:i + IN_CHUNK])), InboxItem.state == "pending"))
        or 0 for i in range(0, len(inbox_ids), IN_CHUNK))
