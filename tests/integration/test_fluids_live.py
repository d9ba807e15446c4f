"""Urine output and AQUARESIS_WARNING through the live path on PostgreSQL and through
replay: the same alerts from a FHIR feed and from an HL7 nursing flowsheet, the interval
stored, and the page's results showing the rate (issue 16, the urine half)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from monitor.engine.fluids import AQUARESIS_WARNING
from monitor.runtime import Runtime
from monitor.storage.tables import Patient, Result
from tests.hl7_builders import oru, ts
from tests.integration.hospital import WARD_A, Hospital, build
from tests.integration.test_live_equals_replay import live, replayed, runtimes

__all__ = ["runtimes"]  # the fixture, shared with the live-equals-replay test

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
T0 = NOW - timedelta(hours=12)
RECENT = NOW - timedelta(hours=3)
DIURESIS = (240, 260, 230)  # mL over three consecutive hours
ORDINARY = (55, 70, 62)


def hour(n: float) -> str:
    return (T0 + timedelta(hours=n)).isoformat()


def observation(key: str, code: str, value: float, unit: str, **when: Any) -> str:
    return json.dumps({
        "resourceType": "Observation", "id": key, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": "Patient/p1"}, **when,
        "valueQuantity": {"value": value, "unit": unit}})


def fhir_feed(volumes: tuple[float, ...], osmolality: float | None = None) -> str:
    lines = [observation("na1", "2951-2", 119, "mmol/L", effectiveDateTime=hour(0))]
    lines += [observation(f"uo{n}", "9187-6", ml, "mL",
                          effectivePeriod={"start": hour(n), "end": hour(n + 1)})
              for n, ml in enumerate(volumes)]
    if osmolality is not None:
        lines.append(observation("osm1", "2695-5", osmolality, "mOsm/kg",
                                 effectiveDateTime=hour(1)))
    return "\n".join(lines) + "\n"


def flowsheet(volumes: tuple[float, ...], t0: datetime = T0) -> str:
    """Sodium from the laboratory, then one nursing flowsheet ORU per hour: OBR-7 and
    OBR-8 the hour's start and end, OBX 9187-6 the volume in mL."""
    messages = [oru("P1", "L1", t0, 119, ward=WARD_A)]
    for n, ml in enumerate(volumes):
        start, end = t0 + timedelta(hours=n), t0 + timedelta(hours=n + 1)
        messages.append("\r".join([
            f"MSH|^~\\&|FLOWSHEET|CITYGEN|SODMON|CITYGEN|{ts(end)}||ORU^R01^ORU_R01|FS{n}|P|"
            "2.5.1",
            "PID|1||P1^^^CITYGEN^MR||DOE^ALEX||19560412|F",
            f"PV1|1|I|{WARD_A}^0412^01^CITYGEN",
            f"ORC|RE|IO{n}|FS{n}||CM",
            f"OBR|1|IO{n}|FS{n}|IO^Intake and output^L|||{ts(start)}|{ts(end)}",
            f"OBX|1|NM|9187-6^Urine output^LN||{ml}|mL|||||F|||{ts(end)}"]))
    return "\n".join(messages) + "\n"


def both(tmp_path: Path, name: str, text: str, rt: Runtime) -> list[tuple[Any, ...]]:
    path = tmp_path / name
    path.write_text(text)
    expected = replayed(path, "default", rt)
    assert live(path, rt) == expected
    return expected


def rules(alerts: list[tuple[Any, ...]]) -> list[tuple[str, str, str]]:
    return sorted((a[1], a[2], a[3]) for a in alerts)


def test_fhir_diuresis_raises_the_warning_live_and_in_replay(
        tmp_path: Path, runtimes: Any) -> None:
    alerts = both(tmp_path, "uo.ndjson", fhir_feed(DIURESIS), runtimes("default"))
    assert (AQUARESIS_WARNING, "warning", "active") in rules(alerts)
    (warning,) = [a for a in alerts if a[1] == AQUARESIS_WARNING]
    assert warning[5] == 260 and warning[10] == "uo2"  # worst rate, its result


def test_fhir_55_to_70_ml_h_raises_nothing_live_or_in_replay(
        tmp_path: Path, runtimes: Any) -> None:
    alerts = both(tmp_path, "uo.ndjson", fhir_feed(ORDINARY), runtimes("default"))
    assert AQUARESIS_WARNING not in {a[1] for a in alerts}


def test_low_osmolality_alone_raises_the_warning(tmp_path: Path, runtimes: Any) -> None:
    alerts = both(tmp_path, "osm.ndjson", fhir_feed(ORDINARY, osmolality=85),
                  runtimes("default"))
    assert (AQUARESIS_WARNING, "warning", "active") in rules(alerts)


def test_output_falling_back_resolves_it_the_same_way(tmp_path: Path, runtimes: Any) -> None:
    alerts = both(tmp_path, "uo.ndjson", fhir_feed((*DIURESIS, 50)), runtimes("default"))
    assert (AQUARESIS_WARNING, "warning", "resolved") in rules(alerts)


def test_hl7_flowsheet_raises_the_same_warning(tmp_path: Path, runtimes: Any) -> None:
    alerts = both(tmp_path, "uo.hl7", flowsheet(DIURESIS), runtimes("default"))
    assert (AQUARESIS_WARNING, "warning", "active") in rules(alerts)


def test_hl7_flowsheet_at_ordinary_output_raises_nothing(
        tmp_path: Path, runtimes: Any) -> None:
    alerts = both(tmp_path, "uo.hl7", flowsheet(ORDINARY), runtimes("default"))
    assert AQUARESIS_WARNING not in {a[1] for a in alerts}


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    # Recent enough to page, so the alert is on the board.
    for message in flowsheet(DIURESIS, RECENT).strip().split("\n"):
        made.receive(message)
    with made.rt.uow() as uow:
        made.patients["P1"] = uow.session.scalars(
            select(Patient.id).where(Patient.identifier == "P1")).one()
    yield made
    made.close()


def test_the_interval_is_stored_and_the_page_shows_the_rate(h: Hospital) -> None:
    with h.rt.uow() as uow:
        stored = uow.session.execute(select(Result.started_at, Result.collected_at,
                                            Result.value_mmol_l).where(
            Result.analyte == "urine-output").order_by(Result.collected_at)).all()
    assert [(s, c, v) for s, c, v in stored] == [
        (RECENT + timedelta(hours=n), RECENT + timedelta(hours=n + 1), float(ml))
        for n, ml in enumerate(DIURESIS)]
    html = h.signed_in("nurse.a").get(f"/patients/{h.patients['P1']}").text
    assert html.count('data-testid="urine-rate"') == 3
    assert "260 mL/h over 1 h" in html
    assert "Water diuresis" in html
    assert "consider desmopressin per protocol" in html


def test_the_chart_draws_hourly_urine_output_under_the_sodium(h: Hospital) -> None:
    html = h.signed_in("nurse.a").get(f"/patients/{h.patients['P1']}").text
    strip = html.split('data-testid="urine-output"')[1].split("</g>")[0]
    assert strip.count('data-testid="urine-bar"') == 3
    assert strip.count('class="urine high"') == 3
    assert "urine output 260 mL/h (260 mL from" in strip


def test_the_board_shows_the_rate_not_a_sodium(h: Hospital) -> None:
    html = h.signed_in("nurse.a").get("/board").text
    row = html.split('data-rule="AQUARESIS_WARNING"')[1].split("</tr>")[0]
    assert "urine 260 mL/h for 2 h" in row and "Na 260" not in row


def csv_feed(volumes: tuple[float, ...]) -> str:
    rows = ["patient_id,collected_at,sodium,unit,analyte,started_at",
            f"P1,{hour(0)},119,mmol/L,sodium,"]
    rows += [f"P1,{hour(n + 1)},{ml},mL,urine-output,{hour(n)}" for n, ml in enumerate(volumes)]
    return "\n".join(rows) + "\n"


def test_csv_rows_with_started_at_raise_the_same_warning(tmp_path: Path, runtimes: Any) -> None:
    alerts = both(tmp_path, "uo.csv", csv_feed(DIURESIS), runtimes("default"))
    assert (AQUARESIS_WARNING, "warning", "active") in rules(alerts)


def test_csv_rows_at_ordinary_output_raise_nothing(tmp_path: Path, runtimes: Any) -> None:
    alerts = both(tmp_path, "ok.csv", csv_feed(ORDINARY), runtimes("default"))
    assert AQUARESIS_WARNING not in {a[1] for a in alerts}
