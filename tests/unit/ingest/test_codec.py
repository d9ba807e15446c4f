"""What the intake stores of a parsed payload reads back as the same events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from monitor.engine.model import Diagnosis, PatientRef, RiskSource
from monitor.ingest import codec, parse_csv
from monitor.ingest.events import (
    AcuteMarkEvent,
    DiagnosisEvent,
    MergeEvent,
    PatientEvent,
    Reject,
    ResultEvent,
)

from .builders import EXAMPLES, UTC_TZ
from .test_examples import read


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.iterdir()
                                        if p.suffix in (".hl7", ".ndjson", ".csv")))
def test_every_example_reads_back_as_parsed(name: str) -> None:
    items = read(name)
    events = [i for i in items if not isinstance(i, Reject)]
    stored = json.loads(json.dumps(codec.dump(items)))  # as the JSON column keeps it
    assert codec.load(stored) == events


def test_adt_events_a_merge_and_an_acute_mark_read_back() -> None:
    at = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    p, q = PatientRef("CITYGEN", "MRN1"), PatientRef("CITYGEN", "MRN2")
    events = [PatientEvent(p, "A02", "MED4", "12", False, "msg-1", at),
              DiagnosisEvent(p, Diagnosis("K703", RiskSource.ADT, False, at, at, at, True,
                                          "refuted"),
                             "msg-1", True),
              DiagnosisEvent(p, Diagnosis("F102", RiskSource.ADT), "msg-1"),
              MergeEvent(p, q, "msg-2"), AcuteMarkEvent(q, at, "f.csv:3")]
    assert codec.load(json.loads(json.dumps(codec.dump(events)))) == events


def test_an_inferred_key_reads_back_as_inferred() -> None:
    text = "patient_id,collected_at,sodium,result_id\nP1,2026-09-14T08:00:00Z,118,\n" \
        "P1,2026-09-14T09:00:00Z,119,R-2\n"
    events = list(parse_csv(text, source="f.csv", tz=UTC_TZ))
    back = codec.load(json.loads(json.dumps(codec.dump(events))))
    assert back == events
    assert [e.key_inferred for e in back or [] if isinstance(e, ResultEvent)] == [True, False]


def test_nothing_or_another_version_means_parse_again() -> None:
    assert codec.dump([]) is None
    assert codec.dump([Reject("row 1", "no value")]) == {"v": codec.VERSION, "items": []}
    assert codec.load(None) is None
    assert codec.load({"v": codec.VERSION + 1, "items": []}) is None
