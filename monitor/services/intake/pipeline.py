"""What processing needs besides the database (policy, time zone, paging age), and how a
stored payload is parsed with it: shared by intake, the inbox workers and reject retries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from monitor.engine.policy import Policy
from monitor.ingest.dispatch import parse_text
from monitor.ingest.events import Item
from monitor.ingest.flags import DEFAULT_SUSPECT_COMMENTS
from monitor.ingest.terminology import DEFAULT_TERMS, Terminology

IMPORT_FEED = "import"  # backfill: recorded and shown, never paged
# What refused MLLP bytes are filed under when they name no sender (no readable MSH-3).
UNKNOWN_HL7_FEED = "hl7:unknown"
# The feed of rejects from connections bound to no feed (feed authentication).
UNAUTHENTICATED = "hl7:unauthenticated"
# Names that stand for no live sender: never reported as live or silent feeds (an
# attacker who stops sending must not page the admins about a "silent feed").
PSEUDO_FEEDS = (IMPORT_FEED, UNKNOWN_HL7_FEED, UNAUTHENTICATED)


@dataclass(frozen=True)
class Pipeline:
    """What processing needs besides the database: policy, time zone, paging age."""

    policy: Policy
    tz: ZoneInfo
    notify_max_age: timedelta = timedelta(hours=24)
    local_codes: Mapping[str, str] = field(default_factory=dict)
    suspect_comments: tuple[str, ...] = DEFAULT_SUSPECT_COMMENTS
    max_results: int = 500  # per message (SODIUM_MAX_RESULTS_PER_MESSAGE)
    # alias -> canonical assigning authority (SODIUM_PATIENT_AUTHORITIES)
    authorities: Mapping[str, str] = field(default_factory=dict)
    # National ICD-10 systems (SODIUM_ICD10_SYSTEMS) and the policy's alcohol answers.
    terms: Terminology = DEFAULT_TERMS
    # The hospital's medication codes: local code -> class (SODIUM_MEDICATION_MAP).
    medication_map: Mapping[str, str] = field(default_factory=dict)


def parse_payload(fmt: str, payload: bytes, source: str, p: Pipeline) -> Iterable[Item]:
    text = payload.decode("utf-8", errors="replace")
    return parse_text(source, text, fmt, p.tz, p.local_codes,
                      suspect_comments=p.suspect_comments, authorities=p.authorities,
                      terms=p.terms)
