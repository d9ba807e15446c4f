"""A replay split by patient reads an NDJSON line's patient from its text (issue 18 item 4):
only where that is certain; anything else is parsed by every process, as before."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.engine.model import PatientRef
from monitor.ingest.events import ResultEvent, UnmappedCode
from monitor.ingest.fhir_feed import index_patients, parse_fhir
from monitor.ingest.fhir_split import codes_in_text, subject_reference
from tests import fhir_cohort as cohort

UTC = ZoneInfo("UTC")


def line(resource: dict[str, Any]) -> str:
    return json.dumps(resource)


def sodium(**changes: Any) -> dict[str, Any]:
    return {**cohort.observations("pt-1")[0], **changes}


def test_the_subject_reference_of_an_observation_or_condition_line() -> None:
    assert subject_reference(line(sodium())) == "Patient/pt-1"
    named = sodium(subject={"display": 'Ana "Patient/pt-2"', "reference": "Patient/pt-1"})
    assert subject_reference(line(named)) == "Patient/pt-1"
    assert subject_reference(line(cohort.conditions()[0])) == "Patient/pt-2"


@pytest.mark.parametrize("uncertain", [
    line(sodium(subject={"reference": "Patient/pt-1",
                         "identifier": {"system": "urn:mrn", "value": "M1"}})),  # comes first
    line(sodium(subject={"reference": "#p"})),  # a contained Patient
    line(sodium(subject={"display": "a } b", "reference": "Patient/pt-1"})),
    line(sodium(subject={"reference": "https://ehr.example/fhir/Patient/pt-1"})),
    line({"id": "x", **sodium()}),  # resourceType not first: which type it is is unknown
    line(sodium(resourceType="Encounter")),
    line(sodium(note=[{"text": "subject"}], subject={"reference": "Patient/pt-1"})
         ).replace('"text": "subject"', '"subject": {"reference": "Patient/pt-2"}'),
    line(sodium()).replace('"subject"', '"subj\\u0065ct"', 1),  # an escape may spell a key
    line(sodium(contained=[cohort.patient("pt-2")])),  # a Patient: every process reads it
    line(sodium(subject={"reference": "Patient/pt-1", "reference2": "Patient/pt-2"})
         ).replace("reference2", "reference"),  # a duplicate key: the last one counts
])
def test_a_line_whose_patient_is_not_certain_from_its_text(uncertain: str) -> None:
    assert subject_reference(uncertain) is None


def test_lines_of_patients_kept_by_others_are_skipped_unread() -> None:
    kinds = cohort.by_type()
    patients = "".join(line(r) + "\n" for r in kinds["Patient"])
    broken = line(sodium(id="broken"))[:-1] + ", \n"  # not JSON: a reject for its owner
    text = "".join(line(r) + "\n" for r in kinds["Observation"]) + broken
    index = index_patients([patients, text])
    mrn1 = "MRN-1001"

    def items(keep: Any) -> list[Any]:
        return list(parse_fhir(text, source="o", tz=UTC, patients=index, keep=keep))

    mine = items(lambda identifier: identifier == mrn1)
    assert {e.patient for e in mine if isinstance(e, ResultEvent)} == {
        PatientRef(cohort.MRN_SYSTEM, mrn1)}
    assert [r.reason[:12] for r in mine
            if not isinstance(r, ResultEvent | UnmappedCode)] == ["invalid JSON"]
    others = items(lambda identifier: identifier != mrn1)
    assert mrn1 not in {e.patient.identifier for e in others if isinstance(e, ResultEvent)}
    # pt-1's broken line is not theirs; the heart rates of their own patients are counted
    assert all(isinstance(e, ResultEvent | UnmappedCode) for e in others)


def test_a_logical_id_two_patients_claim_is_parsed_by_every_process() -> None:
    first, second = cohort.patient("pt-1"), cohort.patient("pt-1")
    second["identifier"] = [{"system": cohort.MRN_SYSTEM, "value": "MRN-9999"}]
    text = line(sodium()) + "\n" + line(sodium(id="again")) + "\n"
    index = index_patients([line(first) + "\n" + line(second) + "\n"])
    seen = list(parse_fhir(text, source="o", tz=UTC, patients=index, keep=lambda _: False))
    assert len(seen) == 2  # which patient it is depends on the file: left to the caller


def test_whole_observation_lines_of_other_codes_are_not_parsed() -> None:
    haemoglobin = cohort.observations("pt-1")[1]  # heart rate: a code we do not follow
    broken_but_whole = line(haemoglobin).replace(", ", " ", 1)  # not JSON, nothing of ours
    cut_short = line(haemoglobin)[:80]
    sodium_text = line(sodium(id="na")).replace(", ", " ", 1)  # ours: parsed, refused
    local = line(sodium(id="local", code={"coding": [{"system": "urn:lab", "code": "NA-S"}]}))
    number = line(sodium(id="number", code={"coding": [{"system": "urn:lab", "code": 17}]}))
    escaped = line(sodium(id="escaped")).replace("2951-2", "2951\\u002d2")  # still sodium
    text = "\n".join([line(haemoglobin), broken_but_whole, cut_short, sodium_text, local,
                      number, escaped]) + "\n"

    parsed = list(parse_fhir(text, source="o", tz=UTC,
                             local_codes={"NA-S": "2951-2", "17": "2951-2"}))
    # The lines left unread still count their code as one not used, read from the text.
    assert [(u.position, u.system, u.code, u.count) for u in parsed
            if isinstance(u, UnmappedCode)] == [
        ("o (lines left unread)", cohort.LOINC, "8867-4", 2)]
    items = [i for i in parsed if not isinstance(i, UnmappedCode)]
    assert [(type(i).__name__, i.position) for i in items] == [
        ("Reject", "o:3"), ("Reject", "o:4"), ("ResultEvent", "o:5 (Observation/local)"),
        ("Reject", "o:6 (Observation/number)"),  # read, then refused: a code is a string
        ("ResultEvent", "o:7 (Observation/escaped)")]
    assert all(r.reason.startswith("invalid JSON") for r in items[:2])
    assert [i.position for i in parse_fhir(text, source="o", tz=UTC)
            if not isinstance(i, UnmappedCode)] == [
        "o:3", "o:4", "o:7 (Observation/escaped)"]


def test_the_codes_of_a_line_left_unread_are_read_from_its_text() -> None:
    wbc = line(sodium(id="wbc", code={"coding": [
        {"system": cohort.LOINC, "code": "6690-2", "display": "Leukocytes [#/volume] in Blood"},
        {"code": "WBC", "system": "urn:lab"}], "text": "WBC [x]"}))
    assert codes_in_text(wbc) == [("6690-2", cohort.LOINC), ("WBC", "urn:lab")]
    assert codes_in_text('{"resourceType": "Observation", "status": "final"}') == []
