"""Receive HL7 v2 messages (MLLP or HTTP) and decide their acknowledgements.

AA only once the message is committed to the inbox. AE for content errors (unparsable,
a required field missing, a value the database cannot store, every item unusable), stored
as rejects. AR for reasons unrelated to content (unsupported type, version or processing
id, oversized, or the inbox cannot be written): the sender may resend.

A message is read once (`read_hl7`); the listener commits the messages that arrive
together in one transaction (`commit_hl7`) and acknowledges each only after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from monitor.ingest import Hl7Outcome, build_ack, parse_hl7_message
from monitor.ingest.authorities import canonical_patients
from monitor.ingest.events import Reject, UnmappedCode
from monitor.ingest.hl7_ack_mode import acknowledgement_codes
from monitor.ingest.hl7_charset import decode
from monitor.ingest.hl7_fields import split_messages
from monitor.ingest.hl7_message import read_header
from monitor.services.intake.inbox import Arrival, FeedLiveness, screen, store
from monitor.services.intake.limits import (
    hl7_segment_count,
    too_many_results,
    unstorable_message_id,
)
from monitor.services.intake.pipeline import Pipeline
from monitor.storage.uow import UnitOfWork

log = logging.getLogger(__name__)
CANNOT_STORE = "the receiver cannot store the message now; resend later"


@dataclass(frozen=True)
class Hl7Reply:
    ack: str  # the first acknowledgement; empty when nothing is to be answered
    code: str  # AA / AE / AR (or CA / CE / CR in enhanced mode)
    inbox_id: int | None = None
    acks: tuple[str, ...] = ()  # every acknowledgement, in order (enhanced mode: up to 2)


@dataclass(frozen=True)
class Hl7Frame:
    """A message read and decided, waiting for the commit of its group."""

    arrival: Arrival
    answers: Hl7Outcome | str | None  # what the ACK answers; None: send no ACK
    code: str  # the acknowledgement once committed
    note: str | None = None  # the refusal, or the warning about rejected results

    def reply(self, inbox_id: int | None) -> Hl7Reply:
        return self._reply(self.code, self.note, inbox_id)

    def cannot_store(self) -> Hl7Reply:
        return self._reply(self.code[0] + "R", CANNOT_STORE, None)

    def _reply(self, code: str, note: str | None, inbox_id: int | None) -> Hl7Reply:
        if self.answers is None:
            return Hl7Reply("", code, inbox_id)
        answers = self.answers
        codes = (acknowledgement_codes(answers.accept_ack_type, answers.application_ack_type,
                                       code[1])
                 if isinstance(answers, Hl7Outcome) else [code])
        acks = tuple(build_ack(answers, c, note) for c in codes)
        return Hl7Reply(acks[0] if acks else "", codes[0] if codes else code, inbox_id, acks)


def _code(outcome: Hl7Outcome, accepted: str) -> str:
    """Enhanced mode (MSH-15 present) answers with accept acknowledgements first."""
    return ("C" if outcome.accept_ack_type else "A") + accepted


def refused_frame(feed: str, where: str, reason: str, text: str, now: datetime, *,
                  answers: Hl7Outcome | str | None, code: str = "AR") -> Hl7Frame:
    """Bytes refused whole (oversized, not a frame, not usable): kept as a reject only."""
    refusal = Reject(where, reason, text)
    return Hl7Frame(Arrival("hl7", feed, b"", now, refused=refusal), answers, code, reason)


def refused_message(raw: str, feed: str, reason: str, now: datetime, *, outcome: str,
                    error_code: str, location: str = "") -> Hl7Frame:
    """A message refused before it is parsed (its character set, its framing): answered
    by its own MSH, with ERR-3 `error_code` and ERR-2 `location`, kept as a reject."""
    message = next(split_messages(raw), None)
    header = read_header(message) if message is not None else Hl7Outcome("", "", "", "", "")
    header.error_code, header.error_location = error_code, location
    where = f"{feed} (MSH-10 {header.control_id or '?'})"
    return refused_frame(feed, where, reason, raw, now, answers=header,
                         code=_code(header, outcome))


def read_hl7_bytes(data: bytes, feed_of: Callable[[str], str], p: Pipeline,
                   now: datetime) -> list[Hl7Frame]:
    """One MLLP frame's bytes -> the frames to commit, each with its own ACK: the text in
    its MSH-18 character set (unreadable bytes refused, never replaced), and one message
    per frame (MLLP carries one message per block: a frame holding several gets an AR per
    message, MSA-2 its MSH-10, so the sender resends them one per frame and none is lost
    or stored under a framing the sender did not mean)."""
    decoded = decode(data)
    text = decoded.text
    feed = feed_of(text)
    if decoded.error is not None:
        return [refused_message(text, feed, decoded.error, now,
                                outcome="R" if decoded.unsupported else "E",
                                error_code=decoded.error_code, location="MSH^1^18")]
    messages = [m.text for m in split_messages(text)]
    if len(messages) < 2:
        return [read_hl7(text, feed, p, now)]
    n = len(messages)
    reason = f"{n} messages in one MLLP frame; send one message per frame"
    return [refused_message(m, feed, f"{reason} (message {k} of {n})", now, outcome="R",
                            error_code="100", location=f"MSH^{k}")
            for k, m in enumerate(messages, start=1)]


def read_hl7(raw: str, feed: str, p: Pipeline, now: datetime) -> Hl7Frame:
    """Parse and screen one message, and decide what it gets once committed."""
    outcome = parse_hl7_message(raw, source=feed, tz=p.tz, local_codes=p.local_codes,
                                suspect_comments=p.suspect_comments)
    if outcome.error is None and outcome.unsupported is None:
        outcome.error = unstorable_message_id(outcome.control_id, "hl7")
        outcome.error_code = "102" if outcome.error else ""  # table 0357: data type error
    if outcome.error is None and outcome.unsupported is None:
        outcome.error = too_many_results(hl7_segment_count(raw, "OBX"), "OBX segments",
                                         p.max_results)
        outcome.error_code = "207" if outcome.error else ""  # application internal error
    where = f"{feed} (MSH-10 {outcome.control_id or '?'})"
    if outcome.unsupported:
        return refused_frame(feed, where, outcome.unsupported, raw, now, answers=outcome,
                             code=_code(outcome, "R"))
    if outcome.error:
        return refused_frame(feed, where, outcome.error, raw, now, answers=outcome,
                             code=_code(outcome, "E"))
    outcome.items = canonical_patients(outcome.items, p.authorities)
    items = screen(outcome.items, now, "hl7")
    rejects = [i for i in items if isinstance(i, Reject)]
    # Codes seen and not used are counted; they make no message usable.
    if rejects and all(isinstance(i, Reject | UnmappedCode) for i in items):
        what = "result" if outcome.message_type.startswith("ORU") else "content"
        reason = f"no usable {what}: " + "; ".join(r.reason for r in rejects)
        outcome.error_code = "102"  # table 0357 data type error: the values are unusable
        return refused_frame(feed, where, reason, raw, now, answers=outcome,
                             code=_code(outcome, "E"))
    warning = "; ".join(f"{r.position}: {r.reason}" for r in rejects) or None
    arrival = Arrival("hl7", feed, raw.encode(), now, items, outcome.control_id)
    return Hl7Frame(arrival, outcome, _code(outcome, "A"), warning)


def commit_hl7(uow: UnitOfWork, frames: Sequence[Hl7Frame], now: datetime,
               liveness: FeedLiveness | None = None) -> list[Hl7Reply]:
    """Commit a group of frames in one transaction; their replies, in order. If the commit
    fails every frame is answered AR (nothing of the group was stored, not even its
    rejects), so the sender resends."""
    try:
        with uow:
            ids = store(uow, [f.arrival for f in frames], now, liveness)
            uow.commit()
    except SQLAlchemyError as error:
        log.error("inbox unavailable, answering AR to %d: %s", len(frames),
                  type(error).__name__)
        return [f.cannot_store() for f in frames]
    return [f.reply(inbox_id) for f, inbox_id in zip(frames, ids, strict=True)]


def receive_hl7(uow: UnitOfWork, raw: str, feed: str, p: Pipeline,
                now: datetime) -> Hl7Reply:
    """One message on its own (HTTP, retry, tests): read, commit, acknowledge."""
    return commit_hl7(uow, [read_hl7(raw, feed, p, now)], now)[0]
