"""HL7 v2 escape sequences (v2.5 section 2.7), decoded as python-hl7 0.4 decodes them.

The listener used python-hl7 until issue 10; a value read here must stay the value it read,
quirks included: an unknown, C or M sequence is dropped, an empty one (two escape
characters) is dropped, a bad hex pair ends the \\X..\\ sequence keeping the bytes before
it, an unterminated sequence at the end is dropped, and `\\.sp2\\` repeats its character.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=64)
def escape_map(separators: str, escape: str) -> dict[str, str]:
    """Sequence -> text for `separators` "\\r" + field, repetition, component, subcomponent."""
    return {
        "H": "_",  # highlighting on/off: no markup to keep
        "N": "_",
        "F": separators[1],
        "R": separators[2],
        "S": separators[3],
        "T": separators[4],
        "E": escape,
        ".br": "\r",  # formatted text (2.7.6)
        ".sp": "\r",
        ".fi": "",
        ".nf": "",
        ".in": "    ",
        ".ti": "    ",
        ".sk": " ",
        ".ce": "\r",
    }


def unescape(text: str, escape: str, mapping: dict[str, str]) -> str:
    """`text` with its escape sequences replaced; raises ValueError on `\\.brX\\` (as before)."""
    if not text or escape not in text:
        return text
    out: list[str] = []
    sequence: list[str] = []
    inside = False
    for char in text:
        if not inside:
            if char == escape:
                inside = True
            else:
                out.append(char)
        elif char != escape:
            sequence.append(char)
        else:
            inside = False
            name = "".join(sequence)
            sequence = []
            if not name:
                continue
            if name in mapping:
                out.append(mapping[name])
            elif name.startswith(".") and name[:3] in mapping:
                out.append(mapping[name[:3]] * int(name[3:]))
            elif name[0] == "X":
                out.extend(_hex(name[1:]))
    return "".join(out)


def _hex(digits: str) -> list[str]:
    """Characters of hex pairs, up to the first pair that is not hex."""
    chars: list[str] = []
    for offset in range(0, len(digits), 2):
        try:
            chars.append(chr(int(digits[offset : offset + 2], 16)))
        except ValueError:
            break
    return chars
