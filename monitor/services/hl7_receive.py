"""Receive one HL7 v2 message (MLLP or HTTP) and decide its acknowledgement.

AA only once the message is committed to the inbox. AE for content errors (unparsable,
a required field missing, a value the database cannot store, every item unusable), stored
as rejects. AR for reasons
unrelated to content (unsupported type, version or processing id, oversized, or the
inbox cannot be written): the sender may resend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from monitor.ingest import Hl7Outcome, build_ack, parse_hl7_message
from monitor.ingest.events import Reject
from monitor.services.inbox import receive, reject_payload, screen
from monitor.services.limits import unstorable_message_id
from monitor.services.processing import Pipeline
from monitor.storage.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hl7Reply:
    ack: str
    code: str  # AA / AE / AR (or CA / CE / CR in enhanced mode)
    inbox_id: int | None = None


def _code(outcome: Hl7Outcome, accepted: str) -> str:
    """Enhanced mode (MSH-15 present) answers with accept acknowledgements."""
    return ("C" if outcome.accept_ack_type else "A") + accepted


def receive_hl7(new_uow: Callable[[], UnitOfWork], raw: str, feed: str, p: Pipeline,
                now: datetime) -> Hl7Reply:
    outcome = parse_hl7_message(raw, source=feed, tz=p.tz, local_codes=p.local_codes)
    if outcome.error is None and outcome.unsupported is None:
        outcome.error = unstorable_message_id(outcome.control_id, "hl7")
        outcome.error_code = "102" if outcome.error else ""  # table 0357: data type error
    where = f"{feed} (MSH-10 {outcome.control_id or '?'})"
    try:
        if outcome.unsupported:
            with new_uow() as uow:
                reject_payload(uow, feed, "hl7", where, outcome.unsupported, raw, now)
            return Hl7Reply(build_ack(outcome, _code(outcome, "R"), outcome.unsupported),
                            _code(outcome, "R"))
        if outcome.error:
            with new_uow() as uow:
                reject_payload(uow, feed, "hl7", where, outcome.error, raw, now)
            return Hl7Reply(build_ack(outcome, _code(outcome, "E"), outcome.error),
                            _code(outcome, "E"))
        items = screen(outcome.items, now, "hl7")
        rejects = [i for i in items if isinstance(i, Reject)]
        if rejects and len(rejects) == len(items):
            what = "result" if outcome.message_type.startswith("ORU") else "content"
            reason = f"no usable {what}: " + "; ".join(r.reason for r in rejects)
            with new_uow() as uow:
                reject_payload(uow, feed, "hl7", where, reason, raw, now)
            return Hl7Reply(build_ack(outcome, _code(outcome, "E"), reason), _code(outcome, "E"))
        with new_uow() as uow:
            inbox_id = receive(uow, "hl7", feed, raw.encode(), now, items=items,
                               message_id=outcome.control_id)
    except SQLAlchemyError as error:
        log.error("inbox unavailable, answering AR: %s", type(error).__name__)
        reason = "the receiver cannot store the message now; resend later"
        return Hl7Reply(build_ack(outcome, _code(outcome, "R"), reason), _code(outcome, "R"))
    warning = "; ".join(f"{r.position}: {r.reason}" for r in rejects) or None
    return Hl7Reply(build_ack(outcome, _code(outcome, "A"), warning), _code(outcome, "A"),
                    inbox_id)
