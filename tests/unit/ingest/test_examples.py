"""Every shared example feed parses to the values, times and statuses it was written with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from monitor.engine.model import Analyte, ResultStatus, RiskSource
from monitor.ingest import detect_format, parse_csv, parse_fhir, parse_hl7_stream
from monitor.ingest.events import DiagnosisEvent, Item, Reject, ResultEvent

from .builders import EXAMPLES, UTC_TZ


def read(name: str) -> list[Item]:
    text = (EXAMPLES / name).read_text()
    kind = detect_format(name, text[:200])
    parsers = {"hl7": parse_hl7_stream, "fhir": parse_fhir, "csv": parse_csv}
    items: Iterator[Item] = parsers[kind](text, source=name, tz=UTC_TZ)
    return list(items)


def results(items: list[Item]) -> list[ResultEvent]:
    return [item for item in items if isinstance(item, ResultEvent)]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


SCENARIOS = [entry["file"] for entry in json.loads((EXAMPLES / "expected.json").read_text())]


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_example_parses_without_rejects_for_its_patient(name: str) -> None:
    items = read(name)
    expected_patient = name.rsplit(".", 1)[0]

    assert items
    assert not [item for item in items if isinstance(item, Reject)]
    assert {r.patient.identifier for r in results(items)} == {expected_patient}
    for result in results(items):
        assert result.collected_at.tzinfo is UTC


def test_mrn100001_four_sodium_results_at_their_collection_times() -> None:
    found = results(read("MRN100001.hl7"))

    assert [r.value_mmol_l for r in found] == [114, 118, 123, 125]
    assert [r.collected_at for r in found] == [
        at("2026-09-14T08:00"),
        at("2026-09-14T14:00"),
        at("2026-09-14T20:00"),
        at("2026-09-15T02:00"),
    ]
    assert {r.status for r in found} == {ResultStatus.FINAL}
    assert found[0].result_key == "MRN100001-001|2951-2|"
    assert found[0].patient.authority == "CITYGEN"
    assert (found[0].ward, found[0].bed) == ("MED4", "01")
    assert found[0].position == "MRN100001.hl7:6 (MSH-10 MRN100001001F)"


def test_mrn100003_adt_diagnosis_of_alcohol_dependence() -> None:
    items = read("MRN100003.hl7")
    diagnoses = [item for item in items if isinstance(item, DiagnosisEvent)]

    assert len(diagnoses) == 1
    assert diagnoses[0].diagnosis.code == "F1020"
    assert diagnoses[0].diagnosis.source is RiskSource.ADT
    assert diagnoses[0].diagnosis.active
    assert [r.value_mmol_l for r in results(items)] == [123, 126, 130]


def test_mrn100004_correction_replaces_the_value_under_the_same_key() -> None:
    found = results(read("MRN100004.hl7"))

    assert [(r.result_key, r.status, r.value_mmol_l) for r in found] == [
        ("L1|2951-2|", ResultStatus.FINAL, 116),
        ("L2|2951-2|", ResultStatus.FINAL, 125),
        ("L2|2951-2|", ResultStatus.CORRECTED, 122),
    ]


def test_mrn100005_duplicate_delivery_keeps_the_same_key() -> None:
    keys = [r.result_key for r in results(read("MRN100005.hl7"))]

    assert keys == ["MRN100005-001|2951-2|"] * 2 + ["MRN100005-002|2951-2|"] * 2


def test_mrn100007_urine_sodium_is_its_own_analyte() -> None:
    found = results(read("MRN100007.hl7"))

    assert [r.analyte for r in found] == [Analyte.SODIUM, Analyte.URINE_SODIUM, Analyte.SODIUM]


def test_fhir_ndjson_examples() -> None:
    first = results(read("pat-200001.ndjson"))
    second = read("pat-200002.ndjson")

    assert [(r.value_mmol_l, r.collected_at) for r in first] == [
        (113, at("2026-09-14T08:00")),
        (118, at("2026-09-14T15:00")),
        (123, at("2026-09-14T22:00")),
    ]
    assert first[0].result_key == "pat-200001-0"
    condition = second[0]
    assert isinstance(condition, DiagnosisEvent)
    assert (condition.diagnosis.code, condition.diagnosis.active) == ("E440", True)
    assert condition.diagnosis.source is RiskSource.FHIR


def test_csv_example() -> None:
    found = results(read("CSV300001.csv"))

    assert [(r.value_mmol_l, r.collected_at) for r in found] == [
        (118, at("2026-09-14T08:00")),
        (122, at("2026-09-14T18:00")),
        (127, at("2026-09-15T04:00")),
    ]
    assert found[0].position == "CSV300001.csv:2"
