"""Which adapter reads a file: by its extension, else by its first characters."""

from __future__ import annotations

from pathlib import PurePath
from typing import Literal

Format = Literal["hl7", "fhir", "csv"]

_BY_EXTENSION: dict[str, Format] = {
    ".hl7": "hl7",
    ".hl7v2": "hl7",
    ".er7": "hl7",
    ".json": "fhir",
    ".ndjson": "fhir",
    ".jsonl": "fhir",
    ".csv": "csv",
}


def detect_format(name: str, head: str) -> Format:
    """`head` is the start of the content (a few hundred characters are plenty).

    Raises ValueError when neither the name nor the content tells.
    """
    by_name = _BY_EXTENSION.get(PurePath(name).suffix.lower())
    if by_name is not None:
        return by_name
    start = head.lstrip("\ufeff\x0b \t\r\n")
    if start.startswith(("MSH", "FHS", "BHS")):
        return "hl7"
    if start.startswith(("{", "[")):
        return "fhir"
    if "," in start.split("\n", 1)[0]:
        return "csv"
    raise ValueError(f"cannot tell whether {name!r} holds HL7 v2, FHIR JSON or CSV")
