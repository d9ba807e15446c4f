"""Medications on the patient page and the severe-symptoms action (issue 16): an RDE^O11 of
3% saline at a sodium of 136 raises HYPERTONIC_SALINE_MILD; the page lists every order with
its class or "unknown"; a physician records severe symptoms (page form or JSON API), which
is audited and withdraws the alert in his words; a nurse may not.

Real PostgreSQL, the real app through FastAPI's TestClient (tests/integration/hospital.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import unquote

import pytest
from sqlalchemy import Engine, select

from monitor.storage.tables import Alert, SymptomMark
from tests.hl7_builders import rde
from tests.integration.hospital import WARD_A, Hospital, build, fill, hidden_csrf

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
RULE = "HYPERTONIC_SALINE_MILD"


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    # A2: sodium 136 one hour ago (tests/integration/hospital.py), then 3% saline.
    made.receive(rde("A2", "PO1", made.now - timedelta(minutes=30),
                     "Sodium chloride 3% 250 mL IV", ward=WARD_A))
    made.receive(rde("A2", "PO2", made.now - timedelta(minutes=20), "Ward stock item 7",
                     amount="1", unit="each", route="PO", ward=WARD_A))
    yield made
    made.close()


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def saline_alert(h: Hospital) -> Alert:
    with h.rt.uow() as uow:
        found = uow.session.scalars(select(Alert).where(
            Alert.patient_id == h.patients["A2"], Alert.rule == RULE)).first()
    assert found is not None
    return found


def test_the_page_lists_orders_with_their_class_or_unknown_and_the_alert(h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    html = nurse.get(fill("/patients/{p}", h, "A2")).text
    listed = text(html.split('data-testid="medications"')[1].split("</section>")[0])
    assert "Sodium chloride 3% 250 mL IV" in listed and "hypertonic saline" in listed
    assert "250 mL" in listed and "Intravenous" in listed
    assert "Ward stock item 7" in listed and "unknown" in listed
    assert saline_alert(h).state == "active" and saline_alert(h).severity == "warning"
    assert saline_alert(h).notify  # a current order pages, as a current result does
    assert "not indicated for mild hyponatremia without severe symptoms" in text(html)
    assert 'data-testid="record-symptoms"' not in html  # a nurse has no such form
    reply = nurse.post(fill("/patients/{p}/severe-symptoms", h, "A2"),
                       data={"csrf": hidden_csrf(html), "observed": "", "reason": "seizure"},
                       headers=BROWSER)
    assert reply.status_code == 403
    assert saline_alert(h).state == "active"


def test_a_physician_records_severe_symptoms_and_the_alert_is_withdrawn(h: Hospital) -> None:
    dr = h.signed_in("dr.a")
    page = fill("/patients/{p}", h, "A2")
    html = dr.get(page).text
    form = html.split('data-testid="record-symptoms"')[1].split("</form>")[0]
    assert 'name="observed"' in form and 'name="reason"' in form
    data = {"csrf": hidden_csrf(html), "observed": "", "reason": ""}
    reply = dr.post(f"{page}/severe-symptoms", data=data, headers=BROWSER)
    assert unquote(reply.headers["location"].split("flash=", 1)[1]) == (
        "Not recorded: recording severe symptoms needs a reason.")
    data["reason"] = "generalised seizure"
    reply = dr.post(f"{page}/severe-symptoms", data=data, headers=BROWSER)
    assert reply.status_code == 303
    assert unquote(reply.headers["location"]).endswith("Severe symptoms recorded.")
    alert = saline_alert(h)
    assert (alert.state, alert.withdrawn_reason) == (
        "withdrawn", "dr.a recorded severe symptoms: generalised seizure")
    shown = text(dr.get(page).text.split('data-testid="severe-symptoms"')[1]
                 .split("</section>")[0])
    assert "recorded by dr.a" in shown and "generalised seizure" in shown
    assert ("record-severe-symptoms", "patient", str(h.patients["A2"])) in h.audit_rows("dr.a")


def test_the_json_api_records_severe_symptoms(h: Hospital) -> None:
    api = h.bearer("dr.a")
    path = fill("/api/v1/patients/{p}/severe-symptoms", h, "A2")
    assert api.post(path, json={"reason": ""}).status_code == 422
    reply = api.post(path, json={"reason": "vomiting, somnolence"})
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["changed_alerts"] == [saline_alert(h).id]
    assert saline_alert(h).state == "withdrawn"
    with h.rt.uow() as uow:
        (mark,) = uow.session.scalars(select(SymptomMark)).all()
    assert (mark.marked_by, mark.reason) == ("dr.a", "vomiting, somnolence")
    assert h.bearer("nurse.a").post(path, json={"reason": "x"}).status_code == 403


def test_desmopressin_after_an_overcorrection_shows_re_lowering_in_its_history(
        h: Hospital) -> None:
    # A1: 120 -> 129 in 19 h, an open OVERCORRECTION_24H (tests/integration/hospital.py).
    given = h.now - timedelta(minutes=10)
    h.receive(rde("A1", "PO9", given, "Desmopressin 2 microgram IV", amount="2",
                  unit="microgram", ward=WARD_A))
    dr = h.signed_in("dr.a")
    html = dr.get(fill("/patients/{p}", h, "A1")).text
    history = text(html.split('aria-labelledby="alerts-h"')[1])
    assert "re-lowering in progress: Desmopressin 2 microgram IV ordered" in history
    listed = text(html.split('data-testid="medications"')[1].split("</section>")[0])
    assert "desmopressin" in listed
    with h.rt.uow() as uow:
        alert = uow.session.get(Alert, h.alert("A1"))
        assert alert is not None and alert.state == "active"


def test_a_merge_moves_the_old_records_medications_to_the_survivor(h: Hospital) -> None:
    from monitor.storage.tables import MedicationRecord, Patient
    from tests.hl7_builders import a40

    h.receive(rde("OLD7", "PO-OLD", h.now - timedelta(minutes=5), "Furosemide 40 mg IV",
                  amount="40", unit="mg", ward=WARD_A))
    h.receive(a40("A2", "OLD7", h.now, "M1"))
    with h.rt.uow() as uow:
        survivor = uow.session.scalar(select(Patient.id).where(Patient.identifier == "A2"))
        moved = uow.session.scalars(select(MedicationRecord).where(
            MedicationRecord.text == "Furosemide 40 mg IV")).all()
    assert [m.patient_id for m in moved] == [survivor]
    listed = text(h.signed_in("dr.a").get(fill("/patients/{p}", h, "A2")).text
                  .split('data-testid="medications"')[1].split("</section>")[0])
    assert "Furosemide 40 mg IV" in listed and "loop diuretic" in listed


def test_a_merge_moves_the_old_records_acute_mark_to_the_survivor(h: Hospital) -> None:
    from monitor.storage.tables import EpisodeMark, Patient
    from tests.hl7_builders import a40, oru

    h.receive(oru("OLD8", "OLD8-0", h.now - timedelta(hours=3), 121, ward=WARD_A))
    with h.rt.uow() as uow:
        old = uow.session.scalar(select(Patient.id).where(Patient.identifier == "OLD8"))
    marked = h.bearer("dr.a").post(f"/api/v1/patients/{old}/acute",
                                   json={"reason": "water intoxication this morning"})
    assert marked.status_code == 201, marked.text
    h.receive(a40("A2", "OLD8", h.now, "M2"))
    with h.rt.uow() as uow:
        survivor = uow.session.scalar(select(Patient.id).where(Patient.identifier == "A2"))
        marks = uow.session.scalars(select(EpisodeMark).where(
            EpisodeMark.reason == "water intoxication this morning")).all()
    assert [m.patient_id for m in marks] == [survivor]
    page = h.signed_in("dr.a").get(fill("/patients/{p}", h, "A2")).text
    assert "water intoxication this morning" in page
