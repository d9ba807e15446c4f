"""A lazy reader of HL7 v2 ER7 text: a segment is split into fields when first read, a field
into repetitions, components and subcomponents only along the path one reads.

It reads what python-hl7 0.4's `hl7.parse` + `Segment.extract_field` read (issue 10 replaced
it for speed; tests/unit/ingest/test_hl7_reader.py compares the two), quirks included:
separators come from the first MSH, missing encoding characters default to ^~\\&; in every
segment starting MSH, BHS or FHS fields 1 and 2 are its 4th character and the text up to the
next one; a repeated separator character fails the parse where python-hl7's parse plan failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from monitor.ingest.hl7_escapes import escape_map, unescape

HEADERS = ("MSH", "BHS", "FHS")
UNSPLIT, PLAIN, HEADER = 0, 1, 2  # a segment without separators; an ordinary one; MSH/BHS/FHS


class Hl7SyntaxError(ValueError):
    """The text is not an HL7 message python-hl7 could parse."""


@dataclass(frozen=True, slots=True)
class Encoding:
    """The separators of a message (\\r, field, repetition, component, subcomponent)."""

    separators: str
    escape: str
    escapes: dict[str, str]
    broken_level: int  # first tree level whose separator repeats an outer one; 5: none
    eager: bool  # python-hl7 may fail on a later segment: check them all when parsing


@lru_cache(maxsize=64)
def encoding(seps: str) -> Encoding:
    """From MSH-1 + MSH-2 as python-hl7 takes them: field, component, repetition, escape, sub."""
    repetition = seps[2] if len(seps) > 2 else "~"
    component = seps[1] if len(seps) > 1 else "^"
    separators = "\r" + seps[0] + repetition + component + (seps[4] if len(seps) > 4 else "&")
    escape = seps[3] if len(seps) > 3 else "\\"
    broken = next((k for k in range(1, 5) if separators[k] in separators[:k]), 5)
    eager = broken < 5 or _splits("".join(HEADERS), separators[1:])
    return Encoding(separators, escape, escape_map(separators, escape), broken, eager)


class Segment:
    __slots__ = ("_fields", "enc", "kind", "text")

    def __init__(self, text: str, enc: Encoding) -> None:
        self.text, self.enc = text, enc
        self._fields: list[str] | None = None
        self.kind = UNSPLIT

    @property
    def fields(self) -> list[str]:
        """Field texts by field number (0: the segment id), as sent."""
        if self._fields is None:
            self._fields, self.kind = split_fields(self.text, self.enc.separators)
        return self._fields

    def value(self, field: int, rep: int, comp: int, sub: int) -> str:
        fields = self.fields
        number = field or 1  # python-hl7 reads field 0 (and rep, comp, sub 0) as 1
        if number >= len(fields):
            return ""
        text: str | None = fields[number]
        rep, comp, sub = rep or 1, comp or 1, sub or 1
        if number < 3 and self.kind == HEADER:  # MSH-1 and MSH-2 are never split
            if rep != 1 or comp != 1 or sub != 1:
                return ""
            if field in (1, 2) and fields[0] == "MSH":  # nor unescaped
                return fields[number].strip()
        else:
            seps = self.enc.separators
            text = _nth(_nth(_nth(text, seps[2], rep), seps[3], comp), seps[4], sub)
        if text is None:
            return ""
        return unescape(text, self.enc.escape, self.enc.escapes).strip()

    def repetitions(self, field: int) -> int:
        fields = self.fields
        if field >= len(fields):
            return 0
        if self.kind == UNSPLIT:  # python-hl7 holds the bare text: its length
            return len(fields[0])
        if field < 3 and self.kind == HEADER:
            return 1
        return fields[field].count(self.enc.separators[2]) + 1

    def head(self) -> str | None:
        """What python-hl7's `segment[0][0]` compares to a segment id."""
        fields = self.fields
        if self.kind == UNSPLIT:
            return self.text[0]  # IndexError on an empty segment, as in python-hl7
        if self.kind == PLAIN and _splits(fields[0], self.enc.separators[2:]):
            return None  # a repetition, equal to no string
        return fields[0]

    def __str__(self) -> str:
        fields = self.fields
        if fields[0] in HEADERS:
            body = self.enc.separators[1].join(fields[3:])
            return fields[0] + fields[1] + fields[2] + fields[1] + body
        return self.enc.separators[1].join(fields)


def split_fields(text: str, separators: str) -> tuple[list[str], int]:
    if not _splits(text, separators[1:]):
        return [text], UNSPLIT
    if text[:3] not in HEADERS:
        return text.split(separators[1]), PLAIN
    sep = text[3]
    end = text.find(sep, 4)  # -1 when absent: python-hl7 then reads the whole text again
    rest = text[end + 1 :]
    head = [text[:3], sep, text[4:end]]
    return (head + rest.split(separators[1]) if rest else head), HEADER


class Message:
    __slots__ = ("_segments",)

    def __init__(self, segments: list[Segment]) -> None:
        self._segments = segments

    def __iter__(self) -> Iterator[Segment]:
        return iter(self._segments)

    def __len__(self) -> int:
        return len(self._segments)

    def __getitem__(self, index: int) -> Segment:
        return self._segments[index]

    def segments(self, segment_id: str) -> list[Segment]:
        matches = [seg for seg in self._segments if seg.head() == segment_id]
        if not matches:
            raise KeyError(f"No {segment_id} segments")
        return matches

    def segment(self, segment_id: str) -> Segment:
        return self.segments(segment_id)[0]


def parse(text: str) -> Message:
    """One message, segments joined by \\r; Hl7SyntaxError where python-hl7 failed."""
    message = text.strip()
    if message[:3] not in HEADERS or len(message) < 5:
        raise Hl7SyntaxError("the first segment is not MSH, BHS or FHS")
    enc = encoding(message[3 : message.find(message[3], 4)])
    segments = [Segment(line, enc) for line in message.split("\r")]
    if enc.eager and _plan_fails(segments, enc):
        raise Hl7SyntaxError(f"python-hl7 could not split by {enc.separators[1:]!r}")
    return Message(segments)


def _plan_fails(segments: list[Segment], enc: Encoding) -> bool:
    """Whether python-hl7 failed: a bare "MSH" holding its separator, which it reads as a
    header without a 4th character; a part split at the level above the broken one."""
    level, seps = enc.broken_level, enc.separators
    if level == 1 or any(seg.text in HEADERS and _splits(seg.text, seps[1:]) for seg in segments):
        return True
    for seg in segments if level < 5 else ():
        fields = seg.fields
        if seg.kind == UNSPLIT or (seg.kind == HEADER and len(fields) == 3):
            continue
        if level == 2:
            return True
        for text in fields[3:] if seg.kind == HEADER else fields:
            if not _splits(text, seps[2:]):
                continue
            if level == 3 or any(_splits(rep, seps[3:]) for rep in text.split(seps[2])):
                return True
    return False


def _splits(text: str, separators: str) -> bool:
    return any(sep in text for sep in separators)


def _nth(text: str | None, sep: str, number: int) -> str | None:
    """Part `number` (1-based) of `text` split on `sep`; None when there is no such part."""
    if text is None or sep not in text:
        return text if number == 1 else None
    parts = text.split(sep)
    return parts[number - 1] if number <= len(parts) else None
