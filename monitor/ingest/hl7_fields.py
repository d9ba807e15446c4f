"""Typed access to the fields of an HL7 v2 message, and splitting a feed into messages.

Every value read through here is a `str`, and a component that is absent reads as "" (HL7
treats absent and empty alike). The reader is monitor.ingest.hl7_er7, which reads what
python-hl7 read before it (issue 10).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from monitor.engine.model import PatientRef
from monitor.ingest.events import Person
from monitor.ingest.hl7_er7 import Message as Message
from monitor.ingest.hl7_er7 import Segment as Segment
from monitor.ingest.hl7_er7 import parse as parse_er7


def value(seg: Segment, field: int, comp: int = 1, *, rep: int = 1, sub: int = 1) -> str:
    """SEG-field.comp.sub of repetition `rep`, unescaped; "" when absent."""
    return seg.value(field, rep, comp, sub)


def raw(seg: Segment, field: int) -> str:
    """A whole field as sent (separators and escapes kept), e.g. an SN value "<^100"."""
    fields = seg.fields
    return fields[field] if field < len(fields) else ""


def repetitions(seg: Segment, field: int) -> int:
    return seg.repetitions(field)


def segment_id(seg: Segment) -> str:
    return seg.fields[0]


def patient_from_cx(seg: Segment, field: int) -> PatientRef | None:
    """(CX.4 authority, CX.1 id) of the repetition typed MR (CX.5), else of the first one."""
    count = repetitions(seg, field)
    chosen = next((r for r in range(1, count + 1) if value(seg, field, 5, rep=r) == "MR"), 1)
    identifier = value(seg, field, 1, rep=chosen)
    if not identifier:
        return None
    # CX.4 is an HD; its first subcomponent (namespace id) names the authority.
    return PatientRef(value(seg, field, 4, rep=chosen, sub=1), identifier)


# HL7 table 0001 (administrative sex) -> the words FHIR's AdministrativeGender uses.
_SEX = {"F": "female", "M": "male", "O": "other", "A": "other", "N": "other", "X": "other",
        "U": "unknown"}


def person_from_pid(pid: Segment) -> Person | None:
    """PID-5 (the legal name L if a repetition says so, else the first), PID-7 birth date
    and PID-8 sex. A birth date that cannot be read is left out, never a reason to refuse
    the result: it is shown, not used."""
    count = repetitions(pid, 5)
    rep = next((r for r in range(1, count + 1) if value(pid, 5, 7, rep=r) == "L"), 1)
    family, given, middle = (value(pid, 5, c, rep=rep) for c in (1, 2, 3))
    first = " ".join(part for part in (given, middle) if part)
    name = ", ".join(part for part in (family.upper(), first) if part) or None
    born = value(pid, 7, 1)[:8]
    try:
        birth = date(int(born[:4]), int(born[4:6]), int(born[6:8])) if len(born) == 8 else None
    except ValueError:
        birth = None
    code = value(pid, 8, 1).upper()
    person = Person(name, birth, _SEX.get(code, "unknown" if code else None))
    return person or None


def parse(text: str) -> Message:
    """One message, segments joined by \\r; raises Hl7SyntaxError where it cannot be read."""
    return parse_er7(text)


@dataclass(frozen=True, slots=True)
class MessageText:
    """The segments of one message with their 1-based line numbers in the feed."""

    lines: tuple[int, ...]
    segments: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\r".join(self.segments)


_LINE_END = re.compile(r"\r\n|\r|\n")
_FRAMING = str.maketrans("", "", "\x0b\x1c")  # MLLP start block and end block bytes
_ENVELOPE = ("FHS", "BHS", "FTS", "BTS")  # HL7 batch file wrappers around the messages


def split_messages(text: str) -> Iterator[MessageText]:
    """A feed -> its messages; a message starts at each MSH segment.

    MLLP framing and blank lines are dropped; \\r, \\n and \\r\\n all end a segment, and each
    counts as one line. Text before the first MSH is yielded as a message of its own, so
    that parsing it fails with a reason rather than it vanishing.
    """
    lines: list[int] = []
    segments: list[str] = []
    for number, line in enumerate(_LINE_END.split(text.translate(_FRAMING)), start=1):
        segment = line.strip()
        if not segment or segment.startswith(_ENVELOPE):
            continue
        if segment.startswith("MSH") and segments:
            yield MessageText(tuple(lines), tuple(segments))
            lines, segments = [], []
        lines.append(number)
        segments.append(segment)
    if segments:
        yield MessageText(tuple(lines), tuple(segments))
