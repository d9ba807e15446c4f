"""The ward census on PostgreSQL (issue 14, item 5): the risk tier is the engine's (a
hypokalemic patient is high risk on the census as on the alert), the 24 h change is signed
and the rise from the 24 h low labelled, cleared alerts look cleared, and the most urgent
patient comes first. The hospital is tests/integration/hospital.py, plus the patients here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from monitor.services.alerting import actions
from monitor.storage.tables import Alert, Patient
from tests.hl7_builders import oru
from tests.integration.hospital import A1, Hospital, build

POTASSIUM = "2823-3"


def census_data(h: Hospital) -> None:
    """A3 gets a low potassium (hypokalemia: high risk, its rise of 7 now alerts); A4 falls
    a little with no alert; A5's severe hyponatremia clears unacknowledged; A1's alerts are
    acknowledged."""
    def at(hours: float) -> datetime:
        return h.now - timedelta(hours=hours)

    messages = [
        oru("A3", "A3-k", at(2), 3.0, loinc=POTASSIUM, unit="mmol/L"),
        oru("A4", "A4-0", at(20), 130, location="0100^01"),
        oru("A4", "A4-1", at(1), 128, location="0100^01"),
        oru("A5", "A5-0", at(6), 118, location="0300^01"),
        oru("A5", "A5-1", at(1), 121, location="0300^01"),
    ]
    for text in messages:
        h.receive(text)
    with h.rt.uow() as uow:
        h.patients = {p.identifier: p.id for p in uow.session.scalars(select(Patient))}
        waiting = list(uow.session.scalars(select(Alert.id).where(
            Alert.patient_id == h.patients["A1"], Alert.state == "active",
            Alert.lifecycle == "unacknowledged")))
    for alert_id in waiting:
        actions.acknowledge(h.rt.uow(), alert_id, "nurse.a", None, datetime.now(UTC))


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    census_data(made)
    yield made
    made.close()


def rows(html: str) -> dict[str, str]:
    """MRN -> the row's HTML, in the page's order."""
    return dict(re.findall(r'<tr data-testid="census-row" data-mrn="(\w+)">(.*?)</tr>', html,
                           re.S))


def cell(row: str, testid: str) -> str:
    found = re.search(rf'<td data-testid="{testid}">(.*?)</td>', row, re.S)
    assert found, testid
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_a_hypokalemic_patient_is_high_risk_on_the_census_as_on_the_alert(h: Hospital) -> None:
    with h.rt.uow() as uow:
        alert = uow.session.scalar(select(Alert).where(
            Alert.patient_id == h.patients["A3"], Alert.rule == "OVERCORRECTION_24H"))
        assert alert is not None and alert.risk_tier == "high"
    found = rows(h.signed_in("nurse.a").get("/wards/MED4?sort=bed").text)
    assert cell(found["A3"], "tier") == "high risk hypokalemia (potassium below 3.5 mmol/L)"
    assert cell(found["A2"], "tier") == "standard risk"


def test_the_change_is_signed_and_the_rise_from_the_low_labelled(h: Hospital) -> None:
    found = rows(h.signed_in("nurse.a").get("/wards/MED4").text)
    assert cell(found["A3"], "change") == "+7 rise from 24 h low: +7"
    assert cell(found["A1"], "change") == "+9 rise from 24 h low: +9"
    # A fall: the change is negative (a minus sign), the rise from the low is none.
    assert cell(found["A4"], "change") == "\u22122 rise from 24 h low: 0"


def test_a_cleared_alert_is_dimmed_and_labelled_cleared(h: Hospital) -> None:
    found = rows(h.signed_in("nurse.a").get("/wards/MED4").text)
    assert 'class="census-alert cleared-unacknowledged"' in found["A5"]
    assert cell(found["A5"], "alerts").endswith("cleared")
    assert "cleared-unacknowledged" not in found["A2"]
    assert "acknowledged" in cell(found["A1"], "alerts")


def test_the_census_puts_the_most_urgent_first_and_keeps_the_other_sorts(h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    html = nurse.get("/wards/MED4").text
    # Unacknowledged critical, unacknowledged warning, handled (room order), none.
    assert list(rows(html)) == ["A3", "A2", "A5", "A1", "A4"]
    assert re.search(r'<option value="urgency" selected>Most urgent</option>', html)
    by_bed = list(rows(nurse.get("/wards/MED4?sort=bed").text))
    assert by_bed[0] == "A4" and by_bed[-1] == "A1"  # room 0100 first, room 401 last
    assert A1["location"] == "401^B"


def test_no_glyph_needs_a_special_font(h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    for page in ("/wards/MED4", "/board"):
        html = nurse.get(page).text
        assert not re.search("[\u2190-\u21ff\u25a0-\u27bf\u2b00-\u2bff]", html), page
