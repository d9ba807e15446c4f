"""Per-message time of parse_hl7_message with python-hl7 (the old reader) and hl7_er7.

Not a test: `.venv/bin/python -m tests.unit.ingest.time_hl7_reader`.
"""

from __future__ import annotations

import timeit
from datetime import UTC, datetime, timedelta

from monitor.ingest import parse_hl7_message
from tests.hl7_builders import oru

from .builders import UTC_TZ
from .hl7_reference import reference_reader

START = datetime(2026, 9, 14, 8, tzinfo=UTC)
MESSAGES = [
    oru(f"MRN{i:06d}", f"ORD{i}", START + timedelta(minutes=i), 130 + i % 10) for i in range(200)
]


def per_message_us() -> float:
    def run() -> None:
        for text in MESSAGES:
            parse_hl7_message(text, source="hl7:LIS", tz=UTC_TZ)

    return min(timeit.repeat(run, number=20, repeat=5)) / 20 / len(MESSAGES) * 1e6


if __name__ == "__main__":
    with reference_reader():
        old = per_message_us()
    new = per_message_us()
    print(f"parse_hl7_message per ORU^R01: python-hl7 {old:.1f} us, hl7_er7 {new:.1f} us")
