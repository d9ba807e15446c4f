"""One policy per patient, their ward's, on every path: a physician's risk-factor changes and
acute marks, the ward census, the patient chart and the overdue check. Each on a ward whose
policy is not the service's (`default`): salsa-2021, or a ward protocol from a TOML file.

Real PostgreSQL, the real app through FastAPI's TestClient; the hospital of
tests/integration/hospital.py plus those two wards, a physician of theirs and their patients.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from monitor.runtime.drain import run_inbox
from monitor.scheduling.jobs import alerting
from monitor.services.access.tokens import create_token
from monitor.services.evaluation.claims import claim
from monitor.services.evaluation.processing import process_rows
from monitor.services.intake.hl7 import receive_hl7
from monitor.services.operations import admin
from monitor.storage.tables import Alert, ApiToken, Patient, User
from tests.hl7_builders import oru
from tests.integration.helpers import store_hl7
from tests.integration.hospital import PASSWORD, WARD_A, Hospital, build

SALSA, PROTOCOL = "SALSA", "PROTO"
C24, SEVERE, OVERDUE = "OVERCORRECTION_24H", "SEVERE_HYPONATREMIA", "MEASUREMENT_OVERDUE"
# A ward's own protocol: other limits, only liver disease as a risk factor, and a sodium
# every 2 h whatever the band (shorter than any interval of the built-in profiles).
WARD_PROTOCOL = """
name = "ward-protocol"
title = "Ward protocol"
source = "the ward's clinical safety group"

[limits.standard]
rise_24h = 10
rise_48h = 18

[limits.high]
rise_24h = 7
rise_48h = 14

[monitoring]
severe_hours = 2
moderate_hours = 2
mild_hours = 2
during_rate_alert_hours = 2

[risk_codes]
liver-disease = ["K70-K77"]
"""


@dataclass
class Wards:
    h: Hospital
    dr: TestClient  # dr.s, physician of both wards, by bearer token

    def sodium(self, patient: str, n: int, collected: datetime, value: float,
               ward: str) -> None:
        reply = receive_hl7(self.h.rt.uow(), oru(patient, f"{patient}-{n}", collected, value,
                                                 ward=ward), "hl7:lis", self.h.rt.pipeline,
                            collected)
        assert reply.inbox_id is not None, reply.ack
        assert run_inbox(self.h.rt, reply.inbox_id, collected) == "processed"

    def pid(self, patient: str) -> int:
        with self.h.rt.uow() as uow:
            found = uow.session.scalar(select(Patient.id).where(Patient.identifier == patient))
        assert found is not None
        return found

    def alerts(self, patient: str) -> list[dict[str, Any]]:
        reply = self.dr.get(f"/api/v1/alerts?patient_id={self.pid(patient)}&state=all")
        assert reply.status_code == 200, reply.text
        return sorted(reply.json(), key=lambda a: int(a["alert_id"]))


@pytest.fixture
def w(pg_engine: Engine, pg_migrated: str, tmp_path: Path) -> Iterator[Wards]:
    h = build(pg_migrated)
    protocol = tmp_path / "ward-protocol.toml"
    protocol.write_text(WARD_PROTOCOL, encoding="utf-8")
    with h.rt.uow() as uow:
        admin.upsert_ward(uow, SALSA, h.now, name="Salsa unit", policy="salsa-2021")
    with h.rt.uow() as uow:
        admin.upsert_ward(uow, PROTOCOL, h.now, name="Protocol unit", policy=str(protocol))
    with h.rt.uow() as uow:
        admin.create_user(uow, "dr.s", "physician", h.now, wards=[SALSA, PROTOCOL],
                          password=PASSWORD)
    with h.rt.uow() as uow:
        token = create_token(uow, "dr.s-api", "physician", h.now)
    with h.rt.uow() as uow:
        user_id = select(User.id).where(User.username == "dr.s").scalar_subquery()
        uow.session.execute(update(ApiToken).where(ApiToken.name == "dr.s-api")
                            .values(user_id=user_id))
        uow.commit()
    dr = h.client()
    dr.headers["Authorization"] = f"Bearer {token}"
    yield Wards(h, dr)
    h.close()


def policies(alerts: list[dict[str, Any]]) -> set[str]:
    return {a["policy"] for a in alerts}


def test_a_physicians_changes_re_evaluate_under_the_wards_policy(w: Wards) -> None:
    # 118 -> 129 in 19 h on the salsa-2021 ward: +11 is within its 12 for standard risk.
    now = w.h.now
    w.sodium("S1", 0, now - timedelta(hours=20), 118, SALSA)
    w.sodium("S1", 1, now - timedelta(hours=1), 129, SALSA)
    assert [(a["rule"], a["policy"], a["limit_mmol_l"]) for a in w.alerts("S1")] == [
        (SEVERE, "salsa-2021", 125)]  # severe below 125 there (120 under default)
    patient = f"/api/v1/patients/{w.pid('S1')}"

    # Malnutrition: high risk. salsa-2021 has no high-risk tier, so the safety floor's 8
    # applies (default's high-risk limit would be 6), and every alert stays salsa-2021.
    added = w.dr.post(f"{patient}/risk-factors",
                      json={"factor": "malnutrition", "reason": "BMI 16"})
    assert added.status_code == 201, added.text
    [c24] = [a for a in w.alerts("S1") if a["rule"] == C24]
    assert (c24["state"], c24["risk_tier"], c24["limit_mmol_l"], c24["rise_mmol_l"]) == (
        "active", "high", 8, 11)
    assert "project safety floor" in c24["message"]
    assert policies(w.alerts("S1")) == {"salsa-2021"}

    removed = w.dr.request("DELETE", f"{patient}/risk-factors/{added.json()['id']}",
                           json={"reason": "weight regained; entered in error"})
    assert removed.status_code == 200, removed.text
    assert [(a["state"], a["withdrawn_reason"]) for a in w.alerts("S1") if a["rule"] == C24
            ] == [("withdrawn", "dr.s removed risk factor malnutrition: weight regained; "
                                "entered in error")]
    assert policies(w.alerts("S1")) == {"salsa-2021"}

    again = w.dr.post(f"{patient}/risk-factors", json={"factor": "E43", "reason": "cachexia"})
    assert again.status_code == 201, again.text
    marked = w.dr.post(f"{patient}/acute", json={
        "onset": (now - timedelta(hours=22)).isoformat(), "reason": "water intoxication"})
    assert marked.status_code == 201, marked.text
    final = w.alerts("S1")
    assert [(a["rule"], a["state"]) for a in final] == [
        (SEVERE, "active"), (C24, "withdrawn"), (C24, "withdrawn")]
    assert final[2]["withdrawn_reason"] == "dr.s marked the episode acute: water intoxication"
    assert policies(final) == {"salsa-2021"}


def test_a_risk_factor_added_while_a_worker_holds_the_patient_waits_for_its_results(
        w: Wards) -> None:
    # A worker is applying 129 (+11 from 118: within salsa-2021's 12 at standard risk) when
    # the physician adds malnutrition (high risk: 8). Re-evaluated under the patient's lock,
    # after the worker commits, the change sees 129: the overcorrection is not missed.
    now, rt = w.h.now, w.h.rt
    w.sodium("S4", 0, now - timedelta(hours=20), 118, SALSA)
    inbox_id = store_hl7(rt, oru("S4", "S4-1", now - timedelta(hours=1), 129, ward=SALSA), now)
    with rt.uow() as uow:
        rows = claim(uow, now, only=[inbox_id])
    done: list[int] = []
    with rt.uow() as worker:
        process_rows(worker, rows, rt.pipeline, now)  # holds S4's row until it commits
        physician = threading.Thread(target=lambda: done.append(w.dr.post(
            f"/api/v1/patients/{w.pid('S4')}/risk-factors",
            json={"factor": "malnutrition", "reason": "BMI 15"}).status_code))
        physician.start()
        physician.join(timeout=1.0)
        assert physician.is_alive() and done == []  # waiting for the patient
        worker.commit()
    physician.join(timeout=30)
    assert done == [201]
    [c24] = [a for a in w.alerts("S4") if a["rule"] == C24]
    assert (c24["state"], c24["rise_mmol_l"], c24["limit_mmol_l"], c24["policy"]) == (
        "active", 11, 8, "salsa-2021")


def test_the_census_reads_risk_factors_as_the_wards_policy_does(w: Wards) -> None:
    now = w.h.now
    for patient in ("P1", "P2"):
        w.sodium(patient, 0, now - timedelta(hours=20), 120, PROTOCOL)
    for patient, code in (("P1", "F10.20"), ("P2", "K70.3")):
        reply = w.dr.post(f"/api/v1/patients/{w.pid(patient)}/risk-factors",
                          json={"factor": code, "reason": "documented"})
        assert reply.status_code == 201, reply.text
    page = signed_in(w).get(f"/wards/{PROTOCOL}")
    assert page.status_code == 200
    # The protocol counts only liver disease: alcohol use (a factor under default) is not.
    assert risk_cell(page.text, "P1") == "standard risk"
    assert risk_cell(page.text, "P2") == "high risk liver disease"
    assert "Policy in force: ward-protocol · Ward protocol" in page.text


def test_the_patient_chart_draws_the_wards_corridor_and_tier(w: Wards) -> None:
    now = w.h.now
    w.sodium("S2", 0, now - timedelta(hours=20), 120, SALSA)
    w.sodium("S2", 1, now - timedelta(hours=1), 126, SALSA)
    browser = signed_in(w)
    page = browser.get(f"/patients/{w.pid('S2')}").text
    assert "Policy in force: salsa-2021" in page
    assert "allowed corridor (standard risk: ≤ 12 per 24 h, ≤ 18 per 48 h)" in page
    assert "shaded band: the allowed corridor (salsa-2021)" in page
    assert re.search(r"High risk</th><td>8 / 24 h, 16 / 48 h <small>\(project safety floor",
                     page)

    # A code the ward's policy maps to no risk factor leaves the patient at standard risk.
    w.sodium("P3", 0, now - timedelta(hours=20), 120, PROTOCOL)
    reply = w.dr.post(f"/api/v1/patients/{w.pid('P3')}/risk-factors",
                      json={"factor": "F10", "reason": "alcohol use documented"})
    assert reply.status_code == 201, reply.text
    page = browser.get(f"/patients/{w.pid('P3')}").text
    assert "allowed corridor (standard risk: ≤ 10 per 24 h, ≤ 18 per 48 h)" in page


def test_the_overdue_check_watches_each_patient_by_the_wards_intervals(w: Wards) -> None:
    # 122 mmol/L: moderate under default (a sodium every 12 h), severe under salsa-2021
    # (< 125: every 6 h), and every 2 h under the ward protocol.
    t = w.h.now - timedelta(days=1)
    for patient, ward in (("D1", WARD_A), ("S3", SALSA), ("P4", PROTOCOL)):
        w.sodium(patient, 0, t, 122, ward)

    alerting(w.h.rt, t + timedelta(hours=2, minutes=1))
    # Within default's shortest interval (4 h): a check by it alone would not look at P4.
    assert overdue(w, "P4") == [("ward-protocol", 2.0)]
    assert overdue(w, "S3") == overdue(w, "D1") == []

    alerting(w.h.rt, t + timedelta(hours=6, minutes=1))
    assert overdue(w, "S3") == [("salsa-2021", 6.0)]
    assert overdue(w, "D1") == []
    alerting(w.h.rt, t + timedelta(hours=12, minutes=1))
    assert overdue(w, "D1") == [("default", 12.0)]


def overdue(w: Wards, patient: str) -> list[tuple[str, float]]:
    with w.h.rt.uow() as uow:
        return [(a.policy, a.window_hours) for a in uow.session.scalars(
            select(Alert).where(Alert.patient_id == w.pid(patient), Alert.rule == OVERDUE))]


def signed_in(w: Wards) -> TestClient:
    c = w.h.client()
    reply = c.post("/login", data={"username": "dr.s", "password": PASSWORD})
    assert reply.status_code == 303, reply.text
    return c


def risk_cell(html: str, patient: str) -> str:
    """The census row's Risk cell, as text."""
    row = re.search(rf'<tr data-testid="census-row" data-mrn="{patient}">.*?</tr>', html, re.S)
    assert row, f"no census row for {patient}"
    cell = re.search(r'<td data-testid="tier">(.*?)</td>', row.group(0), re.S)
    assert cell, f"no risk cell for {patient}"
    return " ".join(re.sub(r"<[^>]+>", " ", cell.group(1)).split())
