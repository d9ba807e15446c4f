"""The physician's forms on the patient page in Chromium (issue 14, item 4): a risk factor
chosen from the policy's list raises the alert the higher-risk limit calls for; marking the
episode acute with its onset (typed in the wards' time) withdraws it in his name; the page
prints on one A4 sheet that says when and by whom, without the forms."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.storage.tables import Patient
from monitor.web.clock import field_value, when
from tests.e2e.test_browser import people, send, sign_in
from tests.hl7_builders import oru
from tests.integration.helpers import all_processed
from tests.integration.stack import stack, wait_for

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_physician_records_a_risk_factor_and_an_acute_onset_and_prints_the_page(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path,
        browser: Any) -> None:
    now = datetime.now(UTC)
    people(pg_migrated, now)
    with stack(pg_migrated, redis_url, tmp_path, SODIUM_DISPLAY_TIMEZONE="Europe/Berlin") as s:
        port = s.mllp()
        base = s.api()
        s.worker(concurrency=1)
        # +7 in 19 h: within the standard-risk 8, over the high-risk 6.
        send(port, [oru("M1", "M1-0", now - timedelta(hours=20), 120, received=now),
                    oru("M1", "M1-1", now - timedelta(hours=1), 127, received=now)])
        # A busier patient: severe, then rising for 36 h (several alerts, many updates).
        busy = [oru("B7", f"B7-{n}", now - timedelta(hours=36 - 3 * n), 112 + 3 * n // 2,
                    received=now) for n in range(13)]
        send(port, busy)
        wait_for(lambda: all_processed(pg_engine, 2 + len(busy)), 60, "the worker")
        with Session(pg_engine) as db:
            pid = db.scalars(select(Patient.id).where(Patient.identifier == "M1")).one()
            busy_id = db.scalars(select(Patient.id).where(Patient.identifier == "B7")).one()

        doctor = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(doctor, base, "dr.ali", "ward-pass-2")
        doctor.goto(f"{base}/patients/{pid}")
        assert "No alerts." in doctor.inner_text("section[aria-labelledby=alerts-h]")

        add = doctor.locator("[data-testid=add-risk]")
        add.locator("select").select_option(label="liver disease (ICD-10 K70–K77)")
        add.locator("input[name=reason]").fill("cirrhosis on ultrasound")
        add.locator("button").click()
        doctor.wait_for_selector("[data-testid=flash]")
        assert doctor.inner_text("[data-testid=flash]") == (
            "Risk factor recorded: liver disease (ICD-10 K70–K77).")
        assert "cirrhosis on ultrasound" in doctor.inner_text("[data-testid=risk-factors]")
        alerts = doctor.inner_text("section[aria-labelledby=alerts-h]")
        assert "raised by system" in alerts

        onset = (now - timedelta(hours=22)).replace(second=0, microsecond=0)
        acute = doctor.locator("[data-testid=mark-acute]")
        acute.locator("input[name=onset]").fill(field_value(onset, BERLIN))
        acute.locator("input[name=reason]").fill("marathon runner, onset documented")
        acute.locator("button").click()
        doctor.wait_for_selector("[data-testid=flash]:has-text('Marked acute')")
        assert doctor.inner_text("[data-testid=flash]") == (
            f"Marked acute (onset {when(onset, BERLIN)}).")
        marks = doctor.inner_text("[data-testid=acute-marks]")
        assert f"Onset {when(onset, BERLIN, now)}" in marks  # the wards' time, not UTC
        assert f"Acute until {when(onset + timedelta(hours=48), BERLIN, now)}" in marks
        history = doctor.inner_text("section[aria-labelledby=alerts-h]")
        assert ("withdrawn by dr.ali — dr.ali marked the episode acute: marathon runner, "
                "onset documented") in history

        doctor.emulate_media(media="print")
        printed = doctor.locator("[data-testid=printed]")
        assert printed.is_visible()
        assert re.fullmatch(r"Printed \w{3} \d+ \w{3} \d\d:\d\d \(Europe/Berlin\) by dr\.ali",
                            printed.inner_text().strip())
        for hidden in ("[data-testid=add-risk]", "[data-testid=mark-acute]", "nav",
                       "button"):
            assert not doctor.locator(hidden).first.is_visible(), hidden
        pdf = doctor.pdf(format="A4", print_background=True)
        pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
        assert pages == 1, f"the patient page printed on {pages} A4 pages"
        doctor.goto(f"{base}/patients/{busy_id}")
        assert doctor.locator("section[aria-labelledby=alerts-h] article").count() >= 2
        pages = len(re.findall(rb"/Type\s*/Page(?!s)", doctor.pdf(format="A4")))
        assert pages == 1, f"a busy patient's page printed on {pages} A4 pages"
        doctor.close()
