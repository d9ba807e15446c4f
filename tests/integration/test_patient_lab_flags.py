"""The patient page shows a lab-flagged value as suspect, with the lab's words, and keeps it
out of the chart's line (real PostgreSQL, the real app, the hospital of hospital.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from monitor.runtime.drain import run_inbox
from monitor.services.intake.hl7 import receive_hl7
from monitor.storage.tables import Alert, Patient
from tests.hl7_builders import oru
from tests.integration.hospital import WARD_A, Hospital, build

WORDS = "Sample drawn from drip arm"


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    start = made.now - timedelta(hours=22)
    for order, at, value, note in (("S1-0", start, 121, ""),
                                   ("S1-1", start + timedelta(hours=20), 133, WORDS)):
        text = oru("S1", order, at, value, ward=WARD_A) + (f"\rNTE|1|L|{note}" if note else "")
        reply = receive_hl7(made.rt.uow(), text, "hl7:lis", made.rt.pipeline, datetime.now(UTC))
        assert reply.inbox_id is not None
        run_inbox(made.rt, reply.inbox_id)
    with made.rt.uow() as uow:
        made.patients["S1"] = uow.session.scalars(
            select(Patient.id).where(Patient.identifier == "S1")).one()
    yield made
    made.close()


def test_the_page_marks_the_flagged_value_suspect_with_the_labs_words(h: Hospital) -> None:
    page = h.signed_in("nurse.a").get(f"/patients/{h.patients['S1']}")

    assert page.status_code == 200
    html = page.text
    assert html.count('data-testid="suspect"') == 1  # the chart's marker
    assert 'data-testid="suspect-result"' in html and WORDS in html  # the results table
    line = html.split('<polyline class="series" points="')[1].split('"')[0]
    assert len(line.split()) == 1  # only the counted 121
    with h.rt.uow() as uow:
        assert uow.session.scalar(select(Alert.id).where(
            Alert.patient_id == h.patients["S1"], Alert.rule == "OVERCORRECTION_24H")) is None


def test_the_census_shows_the_latest_counted_value_and_names_the_flagged_one(
        h: Hospital) -> None:
    import re

    html = h.signed_in("nurse.a").get(f"/wards/{WARD_A}").text
    [row] = re.findall(r'<tr data-testid="census-row" data-mrn="S1">(.*?)</tr>', html, re.S)
    cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split())
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    latest = next(c for c in cells if "ago)" in c)
    assert latest.startswith("121 (")  # the counted value, not the drip-arm 133
    assert "newer 133 flagged by the lab, not counted" in latest
    assert f'title="{WORDS}"' in row
