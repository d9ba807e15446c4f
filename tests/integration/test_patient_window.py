"""The patient page and its JSON draw a window of results: by default the 14 days before the
patient's latest result, older on request through a plain link (no JavaScript).

Real PostgreSQL and the real app; the hospital of tests/integration/hospital.py plus L1, a
long stay on ward A with results 40, 20 and 3 days and 1 hour before now."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import Engine, select

from monitor.runtime.drain import run_inbox
from monitor.services.dashboards.views import PATIENT_WINDOW_DAYS
from monitor.services.intake.hl7 import receive_hl7
from monitor.storage.tables import Patient
from tests.hl7_builders import oru
from tests.integration.hospital import WARD_A, Hospital, build

STAY = {40: 131, 20: 132, 3: 137, 0: 138}  # days before now: sodium (mmol/L)


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    for days, value in STAY.items():
        at = made.now - timedelta(days=days, hours=1)
        reply = receive_hl7(made.rt.uow(), oru("L1", f"L1-{days}", at, value, ward=WARD_A),
                            "hl7:lis", made.rt.pipeline, datetime.now(UTC))
        assert reply.inbox_id is not None
        run_inbox(made.rt, reply.inbox_id)
    with made.rt.uow() as uow:
        made.patients["L1"] = uow.session.scalars(
            select(Patient.id).where(Patient.identifier == "L1")).one()
    yield made
    made.close()


def shown(html: str) -> list[int]:
    """The values of the page's results table, in its order."""
    table = html.split('id="results-h"')[1].split("</tbody>")[0]
    return [int(v) for v in re.findall(r"<td>(\d+) mmol/L</td>", table)]


def link(html: str, text: str) -> str:
    found = re.search(rf'<a href="([^"]+)"[^>]*>{text}', html)
    assert found, f"no link {text!r}"
    return unescape(found.group(1))


def test_the_page_shows_the_last_14_days_and_says_so(h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    html = nurse.get(f"/patients/{h.patients['L1']}").text
    assert PATIENT_WINDOW_DAYS == 14
    assert shown(html) == [137, 138]
    assert "Showing the last 14 days before the latest result" in html
    assert "131" not in html.split('id="results-h"')[1].split("</tbody>")[0]
    # The chart draws the window too: two sodium markers.
    chart = html.split('data-testid="chart"')[1].split("</svg>")[0]  # not the legend
    assert len(re.findall(r'<circle class="na lab', chart)) == 2


def test_the_older_link_shows_older_results_without_javascript(h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    pid = h.patients["L1"]
    first = nurse.get(f"/patients/{pid}").text
    older = link(first, "show older")
    assert older == f"/patients/{pid}?days=28"
    page = nurse.get(older).text
    assert shown(page) == [132, 137, 138]
    assert "Showing the last 28 days" in page
    everything = link(page, "everything")
    assert re.fullmatch(rf"/patients/{pid}\?from=\d{{4}}-\d\d-\d\d", everything)
    page = nurse.get(everything).text
    assert shown(page) == [131, 132, 137, 138]
    assert "Nothing older is recorded." in page
    assert link(page, "the last 14 days") == f"/patients/{pid}"


def test_a_short_stay_shows_everything_and_offers_nothing_older(h: Hospital) -> None:
    html = h.signed_in("nurse.a").get(f"/patients/{h.patients['A1']}").text
    assert "Nothing older is recorded." in html
    assert 'data-testid="older"' not in html
    assert "<s>124</s>" in html  # the superseded version is still in the window


def test_the_results_json_has_the_same_window(h: Hospital) -> None:
    api = h.bearer("nurse.a")
    path = f"/api/v1/patients/{h.patients['L1']}/results"

    def values(query: str = "") -> list[float]:
        reply = api.get(path + query)
        assert reply.status_code == 200, reply.text
        return [r["value_mmol_l"] for r in reply.json()]

    assert values() == [137, 138]
    assert values("?days=28") == [132, 137, 138]
    start = (h.now - timedelta(days=41)).date().isoformat()
    assert values(f"?from={start}") == [131, 132, 137, 138]
    assert api.get(path + "?days=0").status_code == 422
    assert api.get(path + "?from=yesterday").status_code == 422
