"""Lab flags in every feed: HL7 SPM-24 CON and NTE comments, FHIR Specimen.condition and
Observation.note, the CSV `flags` column; the lab's words are carried on the event."""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitor.config import Settings
from monitor.ingest import parse_csv, parse_fhir, parse_hl7_stream
from monitor.ingest.events import Item, ResultEvent
from monitor.ingest.flags import FLAG_MAX_CHARS, suspect_words
from monitor.ingest.json_feed import parse_json_results

from .builders import UTC_TZ, obr, obx, oru, seg, spm


def results(items: list[Item]) -> list[ResultEvent]:
    assert all(isinstance(i, ResultEvent) for i in items), items
    return [i for i in items if isinstance(i, ResultEvent)]


def hl7(text: str, **kwargs: Any) -> list[ResultEvent]:
    return results(list(parse_hl7_stream(text, source="t.hl7", tz=UTC_TZ, **kwargs)))


def nte(text: str) -> str:
    return seg("NTE", {1: "1", 2: "L", 3: text})


def test_matching_is_case_insensitive_by_substring_and_reads_hyphens_as_spaces() -> None:
    words = suspect_words(["Sample CONTAMINATED", "drawn from DRIP-ARM", "haemolysed", " "],
                          ("contaminat", "drip arm"))

    assert words == ["Sample CONTAMINATED", "drawn from DRIP-ARM"]


# --- HL7 v2 ---------------------------------------------------------------------------------

def test_spm_24_contaminated_flags_every_result_of_the_order() -> None:
    condition = seg("SPM", {1: "1", 4: "SER^Serum^HL70487", 24: "CON^Contaminated^HL70493"})
    found = hl7(oru(obx("131", sub_id="1"), obx("4.1", code="2823-3^K^LN", sub_id="2"),
                    condition))

    assert [r.flag for r in found] == ["Contaminated (specimen condition CON)"] * 2


def test_other_specimen_conditions_do_not_flag() -> None:
    (result,) = hl7(oru(obx("131"), seg("SPM", {1: "1", 24: "HEM^Hemolyzed^HL70493~COOL"})))

    assert result.flag is None


def test_an_nte_after_the_obx_flags_that_result_only() -> None:
    first, second = hl7(oru(obx("131", sub_id="1"), nte("Possible IV fluid contamination"),
                            obx("4.1", code="2823-3^K^LN", sub_id="2"), nte("Checked")))

    assert first.flag == "Possible IV fluid contamination"
    assert second.flag is None


def test_an_nte_after_the_obr_flags_the_whole_order() -> None:
    found = hl7(oru(nte("Sample taken from drip arm"), obx("131", sub_id="1"),
                    obx("4.1", code="2823-3^K^LN", sub_id="2")))

    assert [r.flag for r in found] == ["Sample taken from drip arm"] * 2


def test_the_comment_list_is_a_parameter() -> None:
    text = oru(obx("131"), nte("Delayed in transit"))

    assert hl7(text)[0].flag is None
    assert hl7(text, suspect_comments=("delayed",))[0].flag == "Delayed in transit"


def test_over_long_words_are_cut_to_what_the_database_stores() -> None:
    (result,) = hl7(oru(obx("131"), nte("contaminated " + "x" * 500)))

    assert result.flag is not None and len(result.flag) == FLAG_MAX_CHARS
    assert result.flag.endswith("…")


def test_an_unflagged_result_carries_no_flag() -> None:
    (result,) = hl7(oru(obx("131"), spm(kind="SER")))

    assert result.flag is None


def test_an_nte_of_the_next_order_is_not_read_as_this_ones() -> None:
    text = oru(obx("131", sub_id="1"), obr(filler="F2"), nte("drip arm"), obx("4.1", sub_id="2",
                                                                           code="2823-3^K^LN"))
    first, second = hl7(text)

    assert (first.flag, second.flag) == (None, "drip arm")


# --- FHIR R4 --------------------------------------------------------------------------------

def observation(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": "obs-1", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2951-2"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-09-14T08:00:00+00:00",
        "valueQuantity": {"value": 131, "unit": "mmol/L"},
    }
    resource.update(changes)
    return resource


CONTAMINATED = {"resourceType": "Specimen", "id": "s1", "condition": [{"coding": [{
    "system": "http://terminology.hl7.org/CodeSystem/v2-0493", "code": "CON",
    "display": "Contaminated"}], "text": "Contaminated with saline"}]}


def fhir(obj: Any) -> list[ResultEvent]:
    return results(list(parse_fhir(json.dumps(obj), source="f.json", tz=UTC_TZ)))


def test_a_specimen_in_the_same_bundle_with_condition_con_flags_the_observation() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": observation(specimen={"reference": "Specimen/s1"})},
        {"fullUrl": "urn:uuid:s1", "resource": CONTAMINATED}]}

    (result,) = fhir(bundle)

    assert result.flag == "Contaminated with saline (specimen condition CON)"


def test_a_contained_specimen_and_a_full_url_reference_are_found() -> None:
    contained = observation(specimen={"reference": "#s1"}, contained=[CONTAMINATED])
    by_url = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": observation(specimen={"reference": "urn:uuid:x"})},
        {"fullUrl": "urn:uuid:x", "resource": {**CONTAMINATED, "id": "other"}}]}

    assert fhir(contained)[0].flag == fhir(by_url)[0].flag is not None


def test_a_specimen_with_another_condition_or_none_in_the_feed_does_not_flag() -> None:
    hemolysed = {**CONTAMINATED, "condition": [{"coding": [{"code": "HEM"}]}]}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": observation(specimen={"reference": "Specimen/s1"})},
        {"resource": hemolysed}]}

    assert fhir(bundle)[0].flag is None
    assert fhir(observation(specimen={"reference": "Specimen/missing"}))[0].flag is None


def test_an_observation_note_matching_the_list_flags_it() -> None:
    noted = observation(note=[{"text": "Received"}, {"text": "Likely drip-arm sample"}])

    assert fhir(noted)[0].flag == "Likely drip-arm sample"
    assert fhir(observation(note=[{"text": "Received"}]))[0].flag is None


# --- CSV and JSON ---------------------------------------------------------------------------

def test_any_text_in_the_csv_flags_column_flags_the_row() -> None:
    text = ("patient_id,collected_at,sodium,flags\n"
            "P1,2026-09-14T08:00:00+00:00,131,haemolysed - repeat\n"
            "P1,2026-09-14T09:00:00+00:00,131,  \n")

    first, second = results(list(parse_csv(text, source="f.csv", tz=UTC_TZ)))

    assert (first.flag, second.flag) == ("haemolysed - repeat", None)


def test_the_json_feed_takes_the_flags_key() -> None:
    rows = [{"patient_id": "P1", "collected_at": "2026-09-14T08:00:00+00:00", "sodium": 131,
             "flags": "drip arm"}]

    (result,) = results(list(parse_json_results(json.dumps(rows), source="j", tz=UTC_TZ)))

    assert result.flag == "drip arm"


# --- the setting ----------------------------------------------------------------------------

def test_the_setting_is_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().suspect_comments == ("contaminat", "drip arm", "IV fluid")
    monkeypatch.setenv("SODIUM_SUSPECT_COMMENTS", "drip arm, line sample")

    assert Settings().suspect_comments == ("drip arm", "line sample")


def test_an_empty_fragment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SODIUM_SUSPECT_COMMENTS", "drip arm,,x")

    with pytest.raises(ValueError, match="none of them empty"):
        Settings()


def test_the_flag_survives_the_inbox_codec() -> None:
    from monitor.ingest import codec

    events = hl7(oru(obx("131"), nte("drip arm")))

    assert codec.load(json.loads(json.dumps(codec.dump(events)))) == events


def test_a_nul_byte_in_the_labs_words_is_a_clear_reject() -> None:
    from monitor.services.intake.limits import unstorable

    (event,) = results(list(parse_csv("patient_id,collected_at,sodium,flags\n"
                                      "P1,2026-09-14T08:00:00+00:00,131,bad\x00\n",
                                      source="f.csv", tz=UTC_TZ)))

    assert unstorable(event, "csv") == "flags contains a NUL byte, which cannot be stored"
