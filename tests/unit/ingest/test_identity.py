"""Who the patient is, as the feeds send it: HL7 PID-5/7/8 and PV1-3.2/3.3, FHIR Patient
name, birthDate and gender. Shown on the pages, never a reason to refuse a result."""

from __future__ import annotations

import json
from datetime import date

import pytest

from monitor.ingest import codec, parse_fhir, parse_hl7_message
from monitor.ingest.events import PatientEvent, Person, ResultEvent

from .builders import UTC_TZ, message, msh, obr, obx, orc, pv1, seg


def _pid(name: str = "", born: str = "", sex: str = "") -> str:
    return seg("PID", {1: "1", 3: "MRN1^^^CITYGEN^MR", 5: name, 7: born, 8: sex})


def _result(*segments: str) -> ResultEvent:
    outcome = parse_hl7_message(message(msh(), *segments, orc(), obr(), obx()), source="lab",
                                tz=UTC_TZ)
    (event,) = outcome.items
    assert isinstance(event, ResultEvent), event
    return event


def test_an_oru_carries_name_birth_date_sex_room_and_bed() -> None:
    event = _result(_pid("HARTMANN^Erika^M^^^^L", "19520314", "F"), pv1("MED4^401^B^CITYGEN"))

    assert event.person == Person("HARTMANN, Erika M", date(1952, 3, 14), "female")
    assert (event.ward, event.room, event.bed) == ("MED4", "401", "B")


def test_the_legal_name_is_chosen_over_an_alias_sent_first() -> None:
    event = _result(_pid("SMITH^Jo^^^^^A~HARTMANN^Erika^^^^^L", "1952", "X"), pv1())

    assert event.person is not None
    assert event.person.name == "HARTMANN, Erika"
    assert event.person.birth_date is None  # only a year: not a date to show an age from
    assert event.person.sex == "other"


@pytest.mark.parametrize("born", ["19521399", "abc", "1952-03-14"])
def test_an_unreadable_birth_date_is_left_out_and_the_result_kept(born: str) -> None:
    event = _result(_pid("DOE^Alex", born), pv1())

    assert event.person == Person("DOE, Alex", None, None)
    assert event.value_mmol_l == 114


def test_no_name_no_person() -> None:
    assert _result(_pid(), pv1()).person is None


def test_an_adt_update_carries_the_person_and_room() -> None:
    head = msh(kind="ADT^A08^ADT_A01")
    outcome = parse_hl7_message(message(head, seg("EVN", {1: "A08"}),
                                        _pid("NOWAK^Piotr", "19581103", "M"),
                                        pv1("ICU1^102^A^CITYGEN")), source="adt", tz=UTC_TZ)
    (event,) = outcome.items
    assert isinstance(event, PatientEvent)
    assert event.person == Person("NOWAK, Piotr", date(1958, 11, 3), "male")
    assert (event.ward, event.room, event.bed) == ("ICU1", "102", "A")


def test_a_fhir_patient_in_the_bundle_names_the_observations_patient() -> None:
    patient = {"resourceType": "Patient", "id": "p1",
               "identifier": [{"system": "urn:mrn", "value": "MRN55"}],
               "name": [{"use": "old", "family": "Meyer", "given": ["Ann"]},
                        {"use": "official", "family": "Schmidt", "given": ["Ann", "Lea"]}],
               "birthDate": "1950-03-02", "gender": "female"}
    observation = {
        "resourceType": "Observation", "id": "o1", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2951-2"}]},
        "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-09-14T08:00:00Z",
        "valueQuantity": {"value": 121, "unit": "mmol/L"}}
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": observation}, {"resource": patient}]}
    (event,) = [i for i in parse_fhir(json.dumps(bundle), source="b.json", tz=UTC_TZ)
                if isinstance(i, ResultEvent)]

    assert event.person == Person("SCHMIDT, Ann Lea", date(1950, 3, 2), "female")


def test_the_person_and_room_survive_the_stored_parse() -> None:
    event = _result(_pid("HARTMANN^Erika", "19520314", "F"), pv1("MED4^401^B^CITYGEN"))
    stored = json.loads(json.dumps(codec.dump([event])))

    assert codec.load(stored) == [event]
