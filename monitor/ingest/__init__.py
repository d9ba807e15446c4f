"""Pure adapters: HL7 v2, FHIR and CSV text -> events (monitor.ingest.events).

Nothing here touches storage, settings or the network; every input that cannot be used
comes back as a Reject with its position and reason.
"""

from monitor.ingest.csv_feed import parse_csv
from monitor.ingest.detect import detect_format
from monitor.ingest.fhir_feed import parse_fhir, parse_fhir_resource
from monitor.ingest.hl7_ack import build_ack
from monitor.ingest.hl7_message import Hl7Outcome, parse_hl7_message, parse_hl7_stream

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
