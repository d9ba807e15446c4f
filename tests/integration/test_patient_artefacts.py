"""The patient page marks what the rules do not count as it reads, as the rules do (real
PostgreSQL, the real app): a spike the next sample reversed is a suspect outside the line,
and a sodium paired with a high glucose is drawn corrected with the measured value."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from monitor.runtime.drain import run_inbox
from monitor.services.intake.hl7 import receive_hl7
from monitor.storage.tables import Patient
from tests.hl7_builders import oru
from tests.integration.hospital import WARD_A, Hospital, build


def send(made: Hospital, mrn: str, order: str, at: datetime, value: float,
         loinc: str = "2951-2", unit: str = "mmol/L") -> None:
    text = oru(mrn, order, at, value, ward=WARD_A, loinc=loinc, unit=unit)
    reply = receive_hl7(made.rt.uow(), text, "hl7:lis", made.rt.pipeline, datetime.now(UTC))
    assert reply.inbox_id is not None
    run_inbox(made.rt, reply.inbox_id)


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    start = made.now - timedelta(hours=10)
    # V2-04: 121, 122, then 136 that the redraw an hour later (121) reverses.
    for n, (hours, value) in enumerate(((0, 121), (6, 122), (7, 136), (8, 121))):
        send(made, "ART1", f"ART1-{n}", start + timedelta(hours=hours), value)
    # V2-05: sodium 126 with glucose 720 mg/dL at the same time: drawn as 140.9.
    send(made, "GLU1", "GLU1-NA", start, 126)
    send(made, "GLU1", "GLU1-GLU", start, 720, loinc="2345-7", unit="mg/dL")
    with made.rt.uow() as uow:
        for mrn in ("ART1", "GLU1"):
            made.patients[mrn] = uow.session.scalars(
                select(Patient.id).where(Patient.identifier == mrn)).one()
    yield made
    made.close()


def line(html: str) -> list[str]:
    return html.split('<polyline class="series" points="')[1].split('"')[0].split()


def test_the_reversed_spike_is_a_suspect_outside_the_line(h: Hospital) -> None:
    html = h.signed_in("nurse.a").get(f"/patients/{h.patients['ART1']}").text
    assert html.count('data-testid="suspect"') == 1
    assert "136 mmol/L" in html and "suspected artefact" in html
    assert len(line(html)) == 3  # 121, 122, 121


def test_a_sodium_with_a_high_glucose_is_drawn_corrected(h: Hospital) -> None:
    html = h.signed_in("nurse.a").get(f"/patients/{h.patients['GLU1']}").text
    assert 'data-testid="corrected"' in html
    assert "140.9 mmol/L" in html and "corrected for a high glucose (measured 126 mmol/L)" in html
