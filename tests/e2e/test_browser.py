"""A nurse and a physician in real headless Chromium against the real stack: a critical
alert arrives live on the board after an HL7 message reaches the listener."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hl7.client
from sqlalchemy import Engine

from monitor.config import Settings
from monitor.runtime import Runtime
from monitor.services.operations import admin
from tests.hl7_builders import oru
from tests.integration.helpers import all_processed
from tests.integration.stack import stack, wait_for


def people(pg: str, now: datetime) -> None:
    rt = Runtime(Settings(database_url=pg, broker_url=""))
    with rt.uow() as uow:
        admin.upsert_ward(uow, "MED4", now, name="Medicine 4")
    with rt.uow() as uow:
        admin.create_user(uow, "nurse.kim", "nurse", now, wards=["MED4"], password="ward-pass-1")
    with rt.uow() as uow:
        admin.create_user(uow, "dr.ali", "physician", now, wards=["MED4"],
                          password="ward-pass-2")


def sign_in(page: Any, base: str, user: str, password: str) -> None:
    page.goto(f"{base}/board")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=board]")


def send(port: int, messages: list[str]) -> None:
    client = hl7.client.MLLPClient("127.0.0.1", port)
    for m in messages:
        client.send_message(m)
    client.close()


def test_nurse_sees_a_critical_alert_arrive_live_and_acknowledges_it_then_physician_reviews(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path,
        browser: Any) -> None:
    now = datetime.now(UTC)
    people(pg_migrated, now)
    with stack(pg_migrated, redis_url, tmp_path) as s:
        port = s.mllp()
        base = s.api()
        s.worker(concurrency=2)
        history = [oru("W1", "W1-0", now - timedelta(hours=20), 118, received=now),
                   oru("W2", "W2-0", now - timedelta(hours=20), 127, received=now),
                   oru("W2", "W2-1", now - timedelta(hours=8), 129, received=now)]
        send(port, history)
        wait_for(lambda: all_processed(pg_engine, 3), 60, "the history")

        nurse = browser.new_page(viewport={"width": 1280, "height": 800})
        console: list[str] = []  # a CSP violation is reported on the console
        nurse.on("console", lambda m: console.append(m.text))
        sign_in(nurse, base, "nurse.kim", "ward-pass-1")
        nurse.wait_for_selector("#live-status:has-text('Live updates on')", timeout=20_000)
        assert nurse.locator("tr[data-rule=OVERCORRECTION_24H]").count() == 0

        send(port, [oru("W1", "W1-1", now - timedelta(hours=1), 128, received=now)])
        row = nurse.locator("tr[data-rule=OVERCORRECTION_24H]")
        row.wait_for(timeout=30_000)  # no reload: it arrives through the event stream
        assert "CRITICAL" in row.inner_text()
        # The tab names the count of unacknowledged alerts, kept up to date live.
        nurse.wait_for_function(
            "document.title.startsWith('(' + document.querySelector("
            "'[data-testid=unacknowledged-count]').textContent + ') Alert board')")

        row.locator("button.ack").click()
        nurse.wait_for_selector("tr[data-rule=OVERCORRECTION_24H]:has-text('nurse.kim')")
        acked = nurse.locator("tr[data-rule=OVERCORRECTION_24H]").inner_text()
        assert "Acknowledged by nurse.kim" in acked
        nurse.goto(f"{base}/wards/MED4")
        nurse.wait_for_selector("[data-testid=census]")
        nurse.goto(f"{base}/docs")
        # The init script ran under the CSP and Swagger UI rendered FastAPI's OpenAPI 3.1:
        # the operations are listed (Swagger UI 4 drew only "Unable to render this
        # definition" while its assets answered 200).
        nurse.wait_for_selector("#swagger-ui .opblock", timeout=20_000)
        docs = nurse.locator("#swagger-ui").inner_text()
        assert "Unable to render" not in docs
        assert "/api/v1/results" in docs and "/fhir/Observation" in docs
        assert nurse.locator("#swagger-ui .opblock").count() >= 10
        # A ward that is not hers: a page that says so and leads back, not a JSON body.
        nurse.goto(f"{base}/wards/SURG9")
        refusal = nurse.locator("[data-testid=refusal]").inner_text()
        assert "Not found" in refusal and "not on one of your wards" in refusal
        assert nurse.locator("a[href='/board']").count() >= 1
        nurse.close()

        doctor = browser.new_page(viewport={"width": 1280, "height": 900})
        doctor.on("console", lambda m: console.append(m.text))
        sign_in(doctor, base, "dr.ali", "ward-pass-2")
        doctor.click("tbody:has(tr[data-rule=OVERCORRECTION_24H]) tr.patient-head a")
        doctor.wait_for_selector("[data-testid=chart] svg")
        assert doctor.locator("[data-testid=corridor]").count() == 1
        assert doctor.locator("[data-testid=trigger]").count() >= 1
        assert "128" in doctor.locator("[data-testid=chart]").inner_html()
        doctor.close()
        assert [m for m in console if "Content Security Policy" in m] == []


def test_pages_work_with_javascript_disabled(pg_engine: Engine, pg_migrated: str,
                                             redis_url: str, tmp_path: Path,
                                             browser: Any) -> None:
    now = datetime.now(UTC)
    people(pg_migrated, now)
    with stack(pg_migrated, redis_url, tmp_path) as s:
        port = s.mllp()
        base = s.api()
        s.worker(concurrency=1)
        send(port, [oru("J1", f"J1-{n}", now - timedelta(hours=h), v, received=now)
                    for n, (h, v) in enumerate([(20, 117), (10, 122), (1, 127)])])
        wait_for(lambda: all_processed(pg_engine, 3), 60, "the worker")
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        sign_in(page, base, "nurse.kim", "ward-pass-1")
        row = page.locator("tr[data-rule=OVERCORRECTION_24H]")
        assert row.count() == 1
        page.keyboard.press("Tab")  # keyboard reaches the controls
        row.locator("button.ack").focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("tr[data-rule=OVERCORRECTION_24H]:has-text('nurse.kim')")
        assert "acknowledge done" in page.inner_text(".flash")
        context.close()
