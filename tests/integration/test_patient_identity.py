"""Who an alert is about: name, age, sex, room and bed from the feeds, on the board, the
census and the patient banner (issue 14, item 2), stored on PostgreSQL; never in a
notification; a name that cannot be stored whole never costs the result."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from monitor.notify.content import alert_payload
from monitor.services.intake.hl7 import receive_hl7
from monitor.storage.tables import Alert, Patient, RejectRow
from monitor.web.clock import years
from tests.hl7_builders import oru
from tests.integration.hospital import WARD_A, Hospital, build


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    yield made
    made.close()


def _patient(h: Hospital, identifier: str) -> Patient:
    with h.rt.uow() as uow:
        found = uow.session.scalar(select(Patient).where(Patient.identifier == identifier))
        assert found is not None
        uow.session.expunge(found)
        return found


def _send(h: Hospital, text: str) -> int | None:
    return h.receive(text)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_feed_names_the_patient_and_where_they_lie(h: Hospital) -> None:
    p = _patient(h, "A1")
    assert (p.display_name, p.birth_date, p.sex) == ("HARTMANN, Erika", date(1952, 3, 14),
                                                      "female")
    assert (p.room, p.bed) == ("401", "B")


def test_board_census_and_banner_show_name_age_sex_room_and_bed(h: Hospital) -> None:
    c = h.signed_in("nurse.a")
    age = years(date(1952, 3, 14), datetime.now(UTC).date())
    board = _text(c.get("/board").text)
    assert f"HARTMANN, Erika · {age} y · F" in board
    assert "MED4 · room 401 · bed B" in board
    assert "MRN A1" in board
    census = _text(c.get(f"/wards/{WARD_A}").text)
    assert f"401 · B HARTMANN, Erika · {age} y · F MRN A1" in census
    assert "DOE, ALEX" in census  # the others, as their feed named them
    page = c.get(f"/patients/{h.patients['A1']}").text
    banner = _text(re.search(r'<header class="banner".*?</header>', page, re.S).group(0))
    assert "HARTMANN, Erika MRN A1 (CITYGEN)" in banner
    assert f"Born 14 Mar 1952 ({age} y) · Female · MED4 · room 401 · bed B" in banner
    assert "<title>(" in page and "HARTMANN, Erika · sodium-monitor</title>" in page


def test_census_filter_finds_a_patient_by_name(h: Hospital) -> None:
    c = h.signed_in("nurse.a")
    found = _text(c.get(f"/wards/{WARD_A}?q=hartmann").text)
    assert "HARTMANN, Erika" in found and "DOE, ALEX" not in found


def test_an_update_renames_and_a_message_without_a_name_keeps_it(h: Hospital) -> None:
    at = h.now - timedelta(minutes=30)
    _send(h, oru("A1", "A1-3", at, 129, ward=WARD_A, name="HARTMANN-KLEIN^Erika",
                 born="19520314", location="402^A"))
    p = _patient(h, "A1")
    assert (p.display_name, p.room, p.bed) == ("HARTMANN-KLEIN, Erika", "402", "A")
    _send(h, oru("A1", "A1-4", at + timedelta(minutes=5), 129, ward=WARD_A, name="",
                 born="", sex="", location="402^A"))
    p = _patient(h, "A1")
    assert (p.display_name, p.birth_date, p.sex) == ("HARTMANN-KLEIN, Erika",
                                                      date(1952, 3, 14), "female")


def test_a_name_too_long_or_with_a_nul_is_cut_and_the_result_kept(h: Hospital) -> None:
    _send(h, oru("N1", "N1-0", h.now - timedelta(hours=1), 131, ward=WARD_A,
                 name="X" * 150 + "\x00^" + "Y" * 150))
    p = _patient(h, "N1")
    assert p.display_name is not None and len(p.display_name) == 200
    assert "\x00" not in p.display_name and p.display_name.startswith("X" * 150 + ", ")
    with h.rt.uow() as uow:
        assert not list(uow.session.scalars(select(RejectRow).where(
            RejectRow.reason.contains("name"))))


def test_a_room_too_long_for_its_column_is_refused_with_its_field(h: Hospital) -> None:
    reply = receive_hl7(h.rt.uow(), oru("R1", "R1-0", h.now, 131, ward=WARD_A,
                                        location="R" * 60 + "^01"),
                        "hl7:lis", h.rt.pipeline, datetime.now(UTC))
    assert "PV1-3.2 room is 60 characters; at most 50 are stored" in reply.ack


def test_a_notification_carries_no_name_birth_date_or_sex(h: Hospital) -> None:
    with h.rt.uow() as uow:
        alert = uow.session.scalar(select(Alert).where(Alert.patient_id == h.patients["A1"],
                                                       Alert.state == "active"))
        assert alert is not None
        for show_mrn in (False, True):
            shape = str(alert_payload(uow.session, alert, show_mrn, "https://na.example"))
            assert "HARTMANN" not in shape and "1952" not in shape and "female" not in shape
