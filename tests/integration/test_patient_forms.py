"""The physician's forms on the patient page (issue 14, item 4): a risk factor from the
policy's list and its removal, an acute mark with its onset, each with a required reason,
confirmed on the page, audited, refused to a nurse; the withdrawn alert names the physician
and what he did; repeated updates fold into one line of the history; the printed-by line.

Real PostgreSQL, the real app through FastAPI's TestClient (tests/integration/hospital.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from monitor.storage.tables import Alert, RiskFactor
from monitor.web.clock import field_value, when
from tests.hl7_builders import oru
from tests.integration.hospital import A1, C24, Hospital, build, fill, hidden_csrf

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
UTC_ZONE = ZoneInfo("UTC")  # the display zone of this hospital


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    yield made
    made.close()


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def post(c: TestClient, path: str, **data: str) -> str:
    """Submit a form of the patient page as a browser does; the confirmation it leads to."""
    page = path.split("/risk-factors")[0].split("/acute")[0]
    data.setdefault("csrf", hidden_csrf(c.get(page).text))
    reply = c.post(path, data=data, headers=BROWSER)
    assert reply.status_code == 303, reply.text
    assert reply.headers["location"].startswith(f"{page}?flash=")
    return unquote(reply.headers["location"].split("flash=", 1)[1])


def c24(h: Hospital, patient: str) -> Alert:
    with h.rt.uow() as uow:
        found = uow.session.scalars(select(Alert).where(
            Alert.patient_id == h.patients[patient], Alert.rule == C24)
            .order_by(Alert.id.desc())).first()
    assert found is not None
    return found


def test_a_physician_adds_a_risk_factor_from_the_list_and_removes_it_with_a_reason(
        h: Hospital) -> None:
    dr = h.signed_in("dr.a")
    page = fill("/patients/{p}", h, "A3")  # 120 -> 127: a rate alert only at high risk
    form = dr.get(page).text.split('data-testid="add-risk"')[1].split("</form>")[0]
    options = re.findall(r'<option value="([^"]+)">([^<]+)</option>', form)
    assert ("liver-disease", "liver disease (ICD-10 K70–K77)") in options
    assert ("hypokalemia", "hypokalemia (ICD-10 E87.6)") in options
    assert 'name="reason"' in form and "required" in form

    assert post(dr, f"{page}/risk-factors", factor="liver-disease", reason="") == (
        "Not recorded: a risk-factor change needs a reason.")
    assert post(dr, f"{page}/risk-factors", factor="liver-diseas", reason="cirrhosis") == (
        "Not recorded: liver-diseas is not on the list of policy default.")
    assert post(dr, f"{page}/risk-factors", factor="liver-disease",
                reason="cirrhosis on ultrasound") == (
        "Risk factor recorded: liver disease (ICD-10 K70–K77).")
    shown = dr.get(page + "?flash=x").text
    section = text(shown.split('data-testid="risk-factors"')[1].split("</section>")[0])
    assert ("liver disease (clinician, dr.a: cirrhosis on ultrasound) Reason for removing "
            "Remove") in section
    assert c24(h, "A3").state == "active"  # high risk: +7 is over its 6
    assert ("add-risk-factor", "patient", str(h.patients["A3"])) in h.audit_rows("dr.a")

    with h.rt.uow() as uow:
        rid = uow.session.scalars(select(RiskFactor.id).where(
            RiskFactor.patient_id == h.patients["A3"])).one()
    assert post(dr, f"{page}/risk-factors/{rid}/remove", reason=" ") == (
        "Not recorded: a risk-factor change needs a reason.")
    assert post(dr, f"{page}/risk-factors/{rid}/remove", reason="ultrasound was normal") == (
        "Risk factor removed.")
    assert c24(h, "A3").state == "withdrawn"
    history = text(dr.get(page).text.split('aria-labelledby="alerts-h"')[1])
    assert ("withdrawn by dr.a — dr.a removed risk factor liver disease: ultrasound was "
            "normal") in history
    assert ("remove-risk-factor", "patient", str(h.patients["A3"])) in h.audit_rows("dr.a")


def test_a_physician_marks_the_episode_acute_with_its_onset_and_sees_its_expiry(
        h: Hospital) -> None:
    dr = h.signed_in("dr.a")
    page = fill("/patients/{p}", h, "A2")  # 127 -> 136 in 19 h: a warning OVERCORRECTION_24H
    form = dr.get(page).text.split('data-testid="mark-acute"')[1].split("</form>")[0]
    assert 'type="datetime-local" name="onset"' in form
    onset = (h.now - timedelta(hours=22)).replace(second=0, microsecond=0)
    typed = field_value(onset, UTC_ZONE)
    assert post(dr, f"{page}/acute", onset=typed, reason="") == (
        "Not recorded: marking hyponatremia acute needs a reason.")
    assert post(dr, f"{page}/acute", onset="yesterday", reason="x").startswith(
        "Not recorded: 'yesterday' is not a date and time")
    assert post(dr, f"{page}/acute", onset=typed, reason="marathon runner") == (
        f"Marked acute (onset {when(onset, UTC_ZONE)}).")
    shown = dr.get(page).text
    marks = text(shown.split('data-testid="acute-marks"')[1].split("</section>")[0])
    until = when(onset + timedelta(hours=48), UTC_ZONE, datetime.now(UTC))
    assert f"Onset {when(onset, UTC_ZONE, datetime.now(UTC))} (marked by dr.a" in marks
    assert f"Acute until {until}" in marks
    alert = c24(h, "A2")
    assert (alert.state, alert.withdrawn_reason) == (
        "withdrawn", "dr.a marked the episode acute: marathon runner")
    history = text(shown.split('aria-labelledby="alerts-h"')[1])
    assert "withdrawn by dr.a — dr.a marked the episode acute: marathon runner" in history
    assert ("mark-acute", "patient", str(h.patients["A2"])) in h.audit_rows("dr.a")


def test_a_nurse_sees_no_physician_forms_and_a_post_gets_the_403_page(h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    page = fill("/patients/{p}", h, "A2")
    html = nurse.get(page).text
    assert 'data-testid="add-risk"' not in html and 'data-testid="mark-acute"' not in html
    csrf = hidden_csrf(html)
    for path, data in [("/risk-factors", {"factor": "malnutrition", "reason": "BMI 16"}),
                       ("/acute", {"onset": "", "reason": "post-op"}),
                       ("/risk-factors/1/remove", {"reason": "wrong"})]:
        reply = nurse.post(page + path, data={"csrf": csrf, **data}, headers=BROWSER)
        assert reply.status_code == 403, path
        assert reply.headers["content-type"].startswith("text/html")
        assert "Not allowed: a nurse may not" in reply.text
    with h.rt.uow() as uow:
        assert uow.session.scalars(select(RiskFactor)).all() == []
    assert c24(h, "A2").state == "active"


def test_repeated_updates_are_one_line_of_the_alert_history(h: Hospital) -> None:
    def at(hours: float) -> datetime:
        return h.now - timedelta(hours=hours)

    for n, (hours, value) in enumerate([(0.8, 130), (0.6, 131), (0.4, 132)], start=3):
        assert h.receive(oru("A1", f"A1-{n}", at(hours), value, **A1)) is not None
    dr = h.signed_in("dr.a")
    article = dr.get(fill("/patients/{p}", h, "A1")).text.split(
        'aria-labelledby="alerts-h"')[1].split("</article>")[0]
    assert len(re.findall(r'data-testid="updates"', article)) == 1
    folded = text(article.split('data-testid="updates"')[1].split("</summary>")[0])
    assert re.search(r"updated 3 times, last at \w{3} \d+ \w{3} \d\d:\d\d", folded)
    assert text(article).count("updated by system") == 3  # each still there, folded


def test_the_printed_page_says_when_and_by_whom(h: Hospital) -> None:
    dr = h.signed_in("dr.a")
    html = dr.get(fill("/patients/{p}", h, "A1")).text
    printed = text(html.split('data-testid="printed">')[1].split("</p>")[0]).strip()
    assert re.fullmatch(r"Printed \w{3} \d+ \w{3} \d\d:\d\d \(UTC\) by dr\.a", printed)
