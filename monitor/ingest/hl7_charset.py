"""MSH-18 (character set, HL7 table 0211) -> the text of an MLLP frame.

Empty MSH-18 keeps the listener's default, UTF-8 (of which ASCII is a part). Bytes that are
not valid in the declared set are refused, never replaced: a replaced byte in a patient
identifier or a result would be a silent change of clinical data.
"""

from __future__ import annotations

from dataclasses import dataclass

CODECS = {"": "utf-8", "ASCII": "ascii", "8859/1": "latin-1", "UNICODE UTF-8": "utf-8"}


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str  # with U+FFFD for bytes that could not be read, when `error` is set
    error: str | None = None
    error_code: str = ""  # HL7 table 0357: 102 data type error, 103 table value not found
    unsupported: bool = False  # a character set we do not read: AR, not AE


def declared(data: bytes) -> str:
    """MSH-18 (its first repetition) as sent; "" when absent or unreadable."""
    head = data.lstrip()[:1024].split(b"\r", 1)[0].split(b"\n", 1)[0].decode("latin-1")
    if not head.startswith("MSH") or len(head) < 5:
        return ""
    fields = head.split(head[3])
    value = fields[17] if len(fields) > 17 else ""
    repetition = fields[1][1:2] if len(fields) > 1 and len(fields[1]) > 1 else "~"
    return value.split(repetition)[0].strip()


def decode(data: bytes) -> Decoded:
    """The frame's text in the character set its MSH-18 declares."""
    charset = declared(data)
    codec = CODECS.get(charset.upper())
    if codec is None:
        supported = ", ".join(repr(c) for c in CODECS if c)
        return Decoded(data.decode("utf-8", errors="replace"),
                       f"MSH-18 character set '{charset}' is not supported "
                       f"({supported} or empty for UTF-8)", "103", unsupported=True)
    try:
        return Decoded(data.decode(codec))
    except UnicodeDecodeError as error:
        name = charset or "UTF-8 (MSH-18 empty)"
        return Decoded(data.decode(codec, errors="replace"),
                       f"byte 0x{data[error.start]:02X} at offset {error.start} is not "
                       f"valid {name}", "102")
