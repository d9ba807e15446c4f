"""HL7 v2 acknowledgements (original mode AA/AE/AR, enhanced mode CA/CE/CR)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from monitor.ingest.hl7_fields import split_messages
from monitor.ingest.hl7_message import Hl7Outcome, read_header

ACK_CODES = frozenset({"AA", "AE", "AR", "CA", "CE", "CR"})

# HL7 table 0357 codes for ERR-3 when the outcome names none (e.g. AR because the receiver
# cannot store the message now): 207, application internal error.
_DEFAULT_ERROR = {"A": "0", "E": "207", "R": "207"}
_ERROR_TEXT = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "207": "Application internal error",
}
# Escape sequences for the default encoding characters ^~\\& (HL7 v2.5 section 2.7.4).
_ESCAPES = str.maketrans(
    {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\", "\r": " ", "\n": " "}
)


def build_ack(
    raw_or_outcome: str | Hl7Outcome,
    code: str,
    text: str | None = None,
    *,
    now: datetime | None = None,
) -> str:
    """An ACK answering a message: MSA-1 `code`, MSA-2 its MSH-10; ERR states `text`.

    With `text`, ERR-2 locates the error (segment^sequence^field^...), ERR-3 carries the
    outcome's HL7 table 0357 code (or a default for `code`), ERR-4 the severity and ERR-8
    the text; MSA-3 repeats it for v2.3 senders, which read only the MSA. An accept
    with a text (some results rejected) gets an ERR of severity W (warning).
    """
    if code not in ACK_CODES:
        raise ValueError(f"acknowledgement code {code!r} is not one of {sorted(ACK_CODES)}")
    header = raw_or_outcome if isinstance(raw_or_outcome, Hl7Outcome) else _header(raw_or_outcome)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    trigger = header.message_type.partition("^")[2]
    msh = [
        "MSH",
        "^~\\&",
        _esc(header.receiving_application),
        _esc(header.receiving_facility),
        _esc(header.sending_application),
        _esc(header.sending_facility),
        moment.strftime("%Y%m%d%H%M%S+0000"),
        "",
        f"ACK^{_esc(trigger)}^ACK" if trigger else "ACK",
        uuid.uuid4().hex[:20].upper(),
        _esc(header.processing_id) or "P",
        _esc(header.version) or "2.5.1",
    ]
    segments = ["|".join(msh), "|".join(["MSA", code, _esc(header.control_id)])]
    if text:
        accepted = code.endswith("A")
        error = header.error_code if header.error_code and not accepted else ""
        error = error or _DEFAULT_ERROR[code[1]]
        error_text = _ERROR_TEXT.get(error, "")
        location = "^".join(_esc(p) for p in header.error_location.split("^")) \
            if header.error_location and not accepted else ""
        segments[1] += f"|{_esc(text)}"
        severity = "W" if accepted else "E"
        segments.append(f"ERR||{location}|{error}^{error_text}^HL70357|{severity}||||"
                        f"{_esc(text)}")
    return "\r".join(segments) + "\r"


def _header(raw: str) -> Hl7Outcome:
    message = next(split_messages(raw), None)
    return read_header(message) if message is not None else Hl7Outcome("", "", "", "", "")


def _esc(value: str) -> str:
    return value.translate(_ESCAPES)
