"""The infusion prediction on the patient page (issue 16, item 3): a patient's sex, birth
date, sodium and body weight from HL7, a 3% saline order, and the panel a clinician reads;
"weight not known" without a weight; a weight entered by a nurse (page form or JSON API),
audited, and the latest weight, entered or received, is the one used.

Real PostgreSQL, the real app through FastAPI's TestClient (tests/integration/hospital.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import unquote

import pytest
from sqlalchemy import Engine, select

from monitor.runtime.drain import drain_inbox
from monitor.storage.tables import Patient, WeightEntry
from tests.hl7_builders import oru, rde
from tests.integration.hospital import WARD_A, Hospital, build, fill, hidden_csrf

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
# A woman born 12 April 1956 (oru's default PID-7/8): 70 at the time of these tests.
WOMAN = {"ward": WARD_A, "name": "LINDQVIST^Maja", "born": "19560412", "sex": "F"}


def weight_message(patient: str, order: str, h: Hospital, hours_ago: float, kg: str,
                   unit: str = "kg") -> str:
    return oru(patient, order, h.now - timedelta(hours=hours_ago), kg, unit=unit,
               loinc="29463-7", **WOMAN).replace("29463-7^Sodium", "29463-7^Body weight")


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    # W1: 116 ten hours ago, 118 an hour ago (a rise of 2 of the 8 allowed in 24 h), weighed
    # 60 kg, then 3% saline ordered. W2: the same without a weight.
    for pid in ("W1", "W2"):
        made.receive(oru(pid, f"{pid}-0", made.now - timedelta(hours=10), 116, **WOMAN))
        made.receive(oru(pid, f"{pid}-1", made.now - timedelta(hours=1), 118, **WOMAN))
        made.receive(rde(pid, f"{pid}-RX", made.now - timedelta(minutes=30),
                         "Sodium chloride 3% 250 mL IV", ward=WARD_A))
    made.receive(weight_message("W1", "W1-wt", made, 2, "60"))
    with made.rt.uow() as uow:
        made.patients = {p.identifier: p.id for p in uow.session.scalars(select(Patient))}
    yield made
    made.close()


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def panel(h: Hospital, patient: str, who: str = "nurse.a") -> str:
    html = h.signed_in(who).get(fill("/patients/{p}", h, patient)).text
    assert 'data-testid="infusion"' in html, "no infusion panel"
    return text(html.split('data-testid="infusion"')[1].split("</section>")[0])


def test_the_panel_shows_the_fluid_inputs_change_per_litre_and_volume_to_the_limit(
        h: Hospital) -> None:
    shown = panel(h, "W1")
    assert "3 % saline: Na 513 mmol/L" in shown
    assert "Sodium chloride 3% 250 mL IV (ordered" in shown
    assert "Latest counted sodium 118 mmol/L" in shown
    assert "Weight 60 kg (hl7:lis," in shown
    assert "Sex female" in shown and "Age 70 years" in shown
    # Body water 0.45 x 60 = 27 L (a woman over 65); (513 - 118) / 28 = 14.1 per litre;
    # 8 - 2 = 6 mmol/L left in 24 h: 6 / 14.107 L = 425 mL, shown to 10 mL.
    assert "Total body water 27 L (0.45 × weight)" in shown
    assert "Expected change: +14.1 mmol/L per litre" in shown
    assert ("About 430 mL of 3 % saline would use the 6 mmol/L left under the limit of "
            "8 mmol/L in 24 h (standard-risk tier; risen 2 from 116).") in shown
    assert "closed-system estimate" in shown and "ignores urine and other losses" in shown
    assert "needs weight and sex" in shown


def test_without_a_weight_the_panel_says_what_is_missing_instead_of_a_number(
        h: Hospital) -> None:
    shown = panel(h, "W2")
    assert "Weight not known" in shown
    assert "No estimate: weight not known." in shown
    assert "mmol/L per litre" not in shown and " mL of " not in shown
    assert "Latest counted sodium 118 mmol/L" in shown  # the inputs that are known


def test_a_nurse_enters_a_weight_on_the_page_audited_and_the_latest_is_used(
        h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    page = fill("/patients/{p}", h, "W2")
    html = nurse.get(page).text
    form = html.split('data-testid="record-weight"')[1].split("</form>")[0]
    assert 'name="weight"' in form and 'name="measured"' in form
    data = {"csrf": hidden_csrf(html), "weight": "6000", "measured": ""}
    reply = nurse.post(f"{page}/body-weight", data=data, headers=BROWSER)
    assert unquote(reply.headers["location"].split("flash=", 1)[1]) == (
        "Not recorded: a body weight must lie within 0.5-500 kg.")
    data["weight"] = "75"
    reply = nurse.post(f"{page}/body-weight", data=data, headers=BROWSER)
    assert unquote(reply.headers["location"]).endswith("Body weight recorded: 75 kg.")
    shown = panel(h, "W2")
    assert "Weight 75 kg (entered by nurse.a," in shown
    # 0.45 x 75 = 33.75 L; (513 - 118) / 34.75 = 11.4 per litre; 6 / 11.367 L = 530 mL.
    assert "Expected change: +11.4 mmol/L per litre" in shown
    assert "About 530 mL of 3 % saline" in shown
    assert ("record-body-weight", "patient", str(h.patients["W2"])) in h.audit_rows("nurse.a")


def test_the_json_api_records_a_weight_and_a_later_received_weight_replaces_it(
        h: Hospital) -> None:
    api = h.bearer("nurse.a")
    path = fill("/api/v1/patients/{p}/body-weight", h, "W1")
    assert api.post(path, json={"weight_kg": 0.1}).status_code == 422
    earlier = (h.now - timedelta(hours=3)).isoformat()
    reply = api.post(path, json={"weight_kg": 80, "measured_at": earlier})
    assert reply.status_code == 201, reply.text
    with h.rt.uow() as uow:
        (row,) = uow.session.scalars(select(WeightEntry)).all()
    assert (row.weight_kg, row.entered_by) == (80, "nurse.a")
    # Weighed 3 h ago, before the 60 kg the feed sent 2 h ago: the feed's stays in use.
    assert "Weight 60 kg (hl7:lis," in panel(h, "W1")
    later = api.post(path, json={"weight_kg": 62,
                                 "measured_at": (h.now - timedelta(hours=1)).isoformat()})
    assert later.status_code == 201
    assert "Weight 62 kg (entered by nurse.a," in panel(h, "W1")
    # Then the feed weighs her in pounds, later: 132.3 lb is 60.0 kg.
    h.receive(weight_message("W1", "W1-wt2", h, 0, "132.3", unit="[lb_av]"))
    assert "Weight 60 kg (hl7:lis," in panel(h, "W1")
    assert h.bearer("nurse.b").post(path, json={"weight_kg": 70}).status_code == 404


def test_a_merge_moves_the_old_records_entered_weight_to_the_survivor(h: Hospital) -> None:
    from tests.hl7_builders import a40

    h.receive(oru("OLD8", "OLD8-0", h.now - timedelta(hours=5), 117, **WOMAN))
    with h.rt.uow() as uow:
        h.patients["OLD8"] = uow.session.scalar(
            select(Patient.id).where(Patient.identifier == "OLD8"))
    reply = h.bearer("nurse.a").post(fill("/api/v1/patients/{p}/body-weight", h, "OLD8"),
                                     json={"weight_kg": 58})
    assert reply.status_code == 201, reply.text
    h.receive(a40("W2", "OLD8", h.now, "M8"))
    assert "Weight 58 kg (entered by nurse.a," in panel(h, "W2")


def test_a_fhir_body_weight_in_pounds_is_used_in_kg(h: Hospital) -> None:
    from tests.integration.test_fhir_identity import fhir_client

    http = fhir_client(h.rt)
    weighed = {"resourceType": "Observation", "id": "wt-w2", "status": "final",
               "category": [{"coding": [{
                   "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                   "code": "vital-signs"}]}],
               "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7",
                                    "display": "Body weight"}]},
               "subject": {"identifier": {"system": "CITYGEN", "value": "W2"}},
               "effectiveDateTime": (h.now - timedelta(hours=2)).isoformat(),
               "valueQuantity": {"value": 143.3, "unit": "lb",
                                 "system": "http://unitsofmeasure.org", "code": "[lb_av]"}}
    reply = http.post("/fhir/Observation", content=json.dumps(weighed))
    assert reply.status_code == 201, reply.text
    drain_inbox(h.rt)
    shown = panel(h, "W2")
    # 143.3 lb = 65.0 kg; 0.45 x 65 = 29.25 L; (513 - 118) / 30.25 = 13.1 per litre;
    # 6 / 13.058 L = 459 mL -> 460 mL.
    assert "Weight 65 kg (" in shown
    assert "Expected change: +13.1 mmol/L per litre" in shown
    assert "About 460 mL of 3 % saline" in shown
