"""Orders and administrations on the patient chart (issue 16, item 4): an HL7 RDE^O11 order
of 3% saline, a FHIR MedicationAdministration of desmopressin given after the last sodium,
a stopped order and an unknown one are marked in the chart's treatment lane with their
class; an order older than the page's window is listed in the table but not loaded for the
chart.

Real PostgreSQL, the real app through FastAPI's TestClient (tests/integration/hospital.py:
A1 has sodium 120 -> 129 over the last 20 h)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import Engine

from monitor.services.dashboards.views import PATIENT_WINDOW_DAYS
from monitor.storage.repos.treatment import medications_since
from tests.hl7_builders import rde
from tests.integration.hospital import WARD_A, Hospital, build, fill

A1 = {"ward": WARD_A}


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    now = made.now
    made.receive(rde("A1", "PO1", now - timedelta(hours=18), "Sodium chloride 3% 150 mL IV",
                     amount="150", **A1))
    made.receive(rde("A1", "PO2", now - timedelta(hours=15), "Tolvaptan 15 mg",
                     amount="15", unit="mg", route="PO", control="DC", **A1))
    made.receive(rde("A1", "PO3", now - timedelta(hours=12), "Ward stock item 7",
                     amount="1", unit="each", route="PO", **A1))
    made.receive(rde("A1", "PO-OLD", now - timedelta(days=PATIENT_WINDOW_DAYS + 6),
                     "Urea 15 g", amount="15", unit="g", route="PO", **A1))
    given = {"resourceType": "MedicationAdministration", "id": "ma-1", "status": "completed",
             "subject": {"identifier": {"system": "CITYGEN", "value": "A1"}},
             "effectiveDateTime": (now - timedelta(minutes=30)).isoformat(),
             "medicationCodeableConcept": {"text": "Desmopressin 2 microgram IV"},
             "dosage": {"dose": {"value": 2, "unit": "microgram"}}}
    feed = made.bearer("feed")
    reply = feed.post("/fhir/MedicationAdministration", content=json.dumps(given),
                      headers={"Content-Type": "application/fhir+json"})
    assert reply.status_code == 201, reply.text
    yield made
    made.close()


def lane(html: str) -> str:
    return html.split('data-testid="treatment"')[1].split("</g>")[0]


def titles(svg: str) -> list[str]:
    return [unescape(t) for t in re.findall(
        r'data-testid="medication-mark"[^>]*><title>([^<]+)</title>', svg)]


def test_the_chart_marks_orders_and_administrations_with_their_class(h: Hospital) -> None:
    html = h.signed_in("nurse.a").get(fill("/patients/{p}", h, "A1")).text
    chart = html.split('data-testid="chart"')[1].split("</svg>")[0]
    found = titles(lane(chart))
    assert len(found) == 4, found
    saline, stopped, unknown, desmo = (
        next(t for t in found if word in t)
        for word in ("Sodium chloride 3%", "Tolvaptan", "Ward stock", "Desmopressin"))
    assert saline.startswith("hypertonic saline (raises sodium): Sodium chloride 3% 150 mL "
                             "IV, 150 mL Intravenous; ordered ")
    assert stopped.startswith("vaptan (raises sodium): Tolvaptan 15 mg")
    assert stopped.endswith("stopped; not given: the rules leave it out")
    assert unknown.startswith("unknown: Ward stock item 7")
    # Given after the last sodium (1 h ago): the span reaches it.
    assert desmo.startswith("desmopressin (lowers sodium): Desmopressin 2 microgram IV")
    assert "; given " in desmo and desmo.endswith(", completed")
    marks = re.findall(r'class="(med [^"]+)" data-testid="medication-mark" '
                       r'data-kind="(\w+)" data-effect="(\w+)"', chart)
    assert sorted((k, e, "void" in c.split()) for c, k, e in marks) == [
        ("administration", "lowers", False), ("order", "raises", False),
        ("order", "raises", True), ("order", "unknown", False)]
    labels = re.findall(r'class="med-label[^"]*"[^>]*>([^<]+)<', chart)
    # Beside a mark where it ends before the next one (the saline's would reach the vaptan).
    assert labels == ["vaptan", "unknown", "desmopressin"]
    assert "Orders and administrations under the time axis: 4." in chart
    assert "Urea 15 g" not in chart  # before the window
    legend = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split(
        'data-testid="legend"')[1].split("</ul>")[0]))
    assert ("raises sodium: hypertonic saline, isotonic saline, vaptan, urea, salt tablets"
            in legend)
    assert "lowers sodium: hypotonic fluid, desmopressin" in legend
    for entry in ("hollow: ordered", "filled: given", "struck: cancelled or not given",
                  "unknown class", "other medication class"):
        assert entry in legend, entry
    table = html.split('data-testid="medications"')[1].split("</section>")[0]
    assert "Urea 15 g" in table  # the table lists it; the chart's window does not load it


def test_the_chart_loads_only_the_windows_medications(h: Hospital) -> None:
    with h.rt.uow() as uow:
        since = h.now - timedelta(days=PATIENT_WINDOW_DAYS)
        texts = [m.text for m in medications_since(uow.session, h.patients["A1"], since)]
    assert texts == ["Sodium chloride 3% 150 mL IV", "Tolvaptan 15 mg", "Ward stock item 7",
                     "Desmopressin 2 microgram IV"]


def test_no_lane_and_no_legend_entries_without_medications(h: Hospital) -> None:
    html = h.signed_in("nurse.a").get(fill("/patients/{p}", h, "A3")).text
    assert 'data-testid="chart"' in html and "Na\u207a mmol/L" in html
    assert 'data-testid="treatment"' not in html
    assert 'data-testid="legend-raises"' not in html
