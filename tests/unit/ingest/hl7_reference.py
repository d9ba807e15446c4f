"""The reader monitor.ingest used before issue 10: python-hl7's parse tree, kept as the
reference that tests/unit/ingest/test_hl7_reader.py compares monitor.ingest.hl7_er7 to."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import hl7

from monitor.ingest import hl7_fields


def value(seg: Any, field: int, comp: int = 1, *, rep: int = 1, sub: int = 1) -> str:
    try:
        return str(seg.extract_field(1, field, rep, comp, sub)).strip()
    except (IndexError, KeyError):
        return ""


def raw(seg: Any, field: int) -> str:
    return str(seg(field)) if field < len(seg) else ""


def repetitions(seg: Any, field: int) -> int:
    return len(seg(field)) if field < len(seg) else 0


def segment_id(seg: Any) -> str:
    return str(seg[0])


def parse(text: str) -> Any:
    return hl7.parse(text)


@contextmanager
def reference_reader() -> Iterator[None]:
    """monitor.ingest reads HL7 through python-hl7 while this is open."""
    with mock.patch.multiple(
        hl7_fields, parse=parse, value=value, raw=raw, repetitions=repetitions,
        segment_id=segment_id,
    ):  # fmt: skip
        yield
