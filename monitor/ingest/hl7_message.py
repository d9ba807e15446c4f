"""HL7 v2 messages -> events: the header checks, then ORU, ADT or pharmacy (RDE, RAS) by type."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from monitor.ingest import hl7_fields as f
from monitor.ingest.checks import Unusable
from monitor.ingest.events import Item, Reject
from monitor.ingest.flags import DEFAULT_SUSPECT_COMMENTS
from monitor.ingest.hl7_adt import ADT_EVENTS, adt_items
from monitor.ingest.hl7_context import MessageContext
from monitor.ingest.hl7_pharmacy import PHARMACY_TYPES, pharmacy_items
from monitor.ingest.hl7_results import oru_items

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
PROCESSING_IDS = {"P": False, "T": True, "D": True}  # -> test: training and debugging


@dataclass(slots=True)
class Hl7Outcome:
    """What one message gave, and what to acknowledge.

    `items` holds every event and reject, including the Reject for a message-level
    `error` (answer AE) or for an `unsupported` type, version or processing id (answer
    AR). A message whose own items contain rejects of single results still has error None.
    """

    control_id: str
    message_type: str  # "ORU^R01"
    version: str
    processing_id: str
    accept_ack_type: str  # MSH-15: AL, NE, ER, SU; with MSH-16 "": original mode
    items: list[Item] = field(default_factory=list)
    error: str | None = None
    unsupported: str | None = None
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    error_code: str = ""  # HL7 table 0357 code for the ACK's ERR-3, when not accepted
    error_location: str = ""  # ERR-2: segment^sequence^field^repetition^component
    application_ack_type: str = ""  # MSH-16: AL, NE, ER, SU


def parse_hl7_message(
    raw: str, *, source: str, tz: ZoneInfo, local_codes: Mapping[str, str] | None = None,
    suspect_comments: tuple[str, ...] = DEFAULT_SUSPECT_COMMENTS,
) -> Hl7Outcome:
    """One message (as from the MLLP listener); line numbers count from its MSH."""
    messages = list(f.split_messages(raw))
    if len(messages) != 1:
        outcome = Hl7Outcome("", "", "", "", "")
        reason = "no message" if not messages else f"{len(messages)} messages where one expected"
        return _failed(outcome, f"{source}:1", reason, raw)
    return _parse(messages[0], source, tz, local_codes or {}, suspect_comments)


def parse_hl7_stream(
    text: str, *, source: str, tz: ZoneInfo, local_codes: Mapping[str, str] | None = None,
    suspect_comments: tuple[str, ...] = DEFAULT_SUSPECT_COMMENTS,
) -> Iterator[Item]:
    """Every message of a file or stream, in file order."""
    for message in f.split_messages(text):
        yield from _parse(message, source, tz, local_codes or {}, suspect_comments).items


def read_header(message: f.MessageText) -> Hl7Outcome:
    """The MSH fields of a message, with `error` set when the message cannot be read."""
    return _read(message)[0]


def _read(message: f.MessageText) -> tuple[Hl7Outcome, f.Message | None]:
    """(header, parsed message); the message is parsed once, for both."""
    outcome = Hl7Outcome("", "", "", "", "")
    try:
        parsed = f.parse(message.text)
        msh = parsed.segment("MSH")
    except Exception:  # not MSH first, separators unusable, no MSH segment
        outcome.error = "not an HL7 message: the first segment is not a readable MSH"
        return outcome, None
    outcome.control_id = f.value(msh, 10)
    outcome.message_type = "^".join(p for p in (f.value(msh, 9, 1), f.value(msh, 9, 2)) if p)
    outcome.version = f.value(msh, 12)
    outcome.processing_id = f.value(msh, 11)
    outcome.accept_ack_type = f.value(msh, 15)
    outcome.application_ack_type = f.value(msh, 16)
    outcome.sending_application, outcome.sending_facility = f.value(msh, 3), f.value(msh, 4)
    outcome.receiving_application, outcome.receiving_facility = f.value(msh, 5), f.value(msh, 6)
    return outcome, parsed


def _parse(
    message: f.MessageText, source: str, tz: ZoneInfo, local_codes: Mapping[str, str],
    suspect_comments: tuple[str, ...] = DEFAULT_SUSPECT_COMMENTS,
) -> Hl7Outcome:
    outcome, parsed = _read(message)
    where = f"{source}:{message.lines[0]}"
    if outcome.control_id:
        where += f" (MSH-10 {outcome.control_id})"
    if outcome.error is not None or parsed is None:
        return _failed(outcome, where, outcome.error or "", message.text)
    for required, number, label in (
        (outcome.message_type, 9, "MSH-9 (message type)"),
        (outcome.control_id, 10, "MSH-10 (message control id)"),
        (outcome.processing_id, 11, "MSH-11 (processing id)"),
        (outcome.version, 12, "MSH-12 (version id)"),
    ):
        if not required:
            outcome.error_code = "101"  # required field missing
            outcome.error_location = f"MSH^1^{number}"
            return _failed(outcome, where, f"{label} is empty", message.text)
    refusal = _unsupported(outcome)
    if refusal is not None:
        outcome.error_code, outcome.unsupported, outcome.error_location = refusal
        outcome.items.append(Reject(where, refusal[1], message.text, content_error=False))
        return outcome
    # No OBX, no result (an OBX without its OBR is read, with the ORC): an AA would tell
    # the lab that results were taken.
    if outcome.message_type == "ORU^R01" and not any(f.segment_id(s) == "OBX" for s in parsed):
        outcome.error_code, outcome.error_location = "100", "OBX^1"  # segment missing
        return _failed(outcome, where, "ORU^R01 without an OBX segment: no result in the "
                       "message", message.text)
    context = MessageContext(
        source, outcome.control_id, message.lines, tz, local_codes,
        test=PROCESSING_IDS[outcome.processing_id], suspect_comments=suspect_comments,
    )  # fmt: skip
    try:
        kind, trigger = outcome.message_type.split("^")
        if outcome.message_type in PHARMACY_TYPES:
            items = pharmacy_items(parsed, context, outcome.message_type)
        elif kind == "ORU":
            items = oru_items(parsed, context)
        else:
            items = adt_items(parsed, context, trigger)
    except Unusable as exc:
        return _failed(outcome, where, str(exc), message.text)
    outcome.items.extend(items)
    return outcome


def _unsupported(outcome: Hl7Outcome) -> tuple[str, str, str] | None:
    """(HL7 table 0357 error code, reason, ERR-2 location) when the message is not one we
    take."""
    kind = outcome.message_type
    if kind != "ORU^R01" and kind not in PHARMACY_TYPES and \
            kind not in {f"ADT^{event}" for event in ADT_EVENTS}:
        events = "/".join(ADT_EVENTS)
        reason = (f"message type '{kind}' is not supported (ORU^R01, ADT^{events}, "
                  f"{', '.join(PHARMACY_TYPES)})")
        if kind.partition("^")[0] in ("ORU", "ADT", "RDE", "RAS"):  # a type we take
            return "201", reason, "MSH^1^9^1^2"
        return "200", reason, "MSH^1^9^1^1"
    if outcome.version not in SUPPORTED_VERSIONS:
        return "203", f"HL7 version '{outcome.version}' is not supported (2.3 to 2.5.1)", \
            "MSH^1^12"
    if outcome.processing_id not in PROCESSING_IDS:
        return "202", f"processing id '{outcome.processing_id}' is not supported (P, T, D)", \
            "MSH^1^11"
    return None


def _failed(outcome: Hl7Outcome, where: str, reason: str, payload: str) -> Hl7Outcome:
    outcome.error = reason
    outcome.error_code = outcome.error_code or "207"  # application error: content not usable
    outcome.items.append(Reject(where, reason, payload))
    return outcome
