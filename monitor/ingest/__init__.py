"""Pure adapters: HL7 v2, FHIR and CSV text -> events (monitor.ingest.events).

Nothing here touches storage, settings or the network; every input that cannot be used
comes back as a Reject with its position and reason.

The names below are loaded on first use: the FHIR models take a tenth of a second to
import, which a command that reads only HL7 or CSV should not pay.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.ingest.csv_feed import parse_csv
    from monitor.ingest.detect import detect_format
    from monitor.ingest.fhir_feed import parse_fhir, parse_fhir_resource
    from monitor.ingest.hl7_ack import build_ack
    from monitor.ingest.hl7_message import Hl7Outcome, parse_hl7_message, parse_hl7_stream

_WHERE = {
    "Hl7Outcome": "hl7_message",
    "build_ack": "hl7_ack",
    "detect_format": "detect",
    "parse_csv": "csv_feed",
    "parse_fhir": "fhir_feed",
    "parse_fhir_resource": "fhir_feed",
    "parse_hl7_message": "hl7_message",
    "parse_hl7_stream": "hl7_message",
}

__all__ = [
    "Hl7Outcome",
    "build_ack",
    "detect_format",
    "parse_csv",
    "parse_fhir",
    "parse_fhir_resource",
    "parse_hl7_message",
    "parse_hl7_stream",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"monitor.ingest.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'monitor.ingest' has no attribute {name!r}")
