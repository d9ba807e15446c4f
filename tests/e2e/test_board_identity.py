"""The board and the patient banner in Chromium: who the alert is about (name, age, sex,
room and bed from PID-5/7/8 and PV1-3), one card per patient, the state of each alert, and
the board usable on a 390 px phone (issue 14, items 2 and 3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from monitor.web.clock import years
from tests.e2e.test_browser import people, send, sign_in
from tests.hl7_builders import oru
from tests.integration.helpers import all_processed
from tests.integration.stack import stack, wait_for


def test_the_nurse_sees_whom_each_alert_is_about_and_who_handled_it(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path,
        browser: Any) -> None:
    now = datetime.now(UTC)
    people(pg_migrated, now)
    erika = {"name": "HARTMANN^Erika", "born": "19520314", "sex": "F", "location": "401^B",
             "received": now}
    with stack(pg_migrated, redis_url, tmp_path) as s:
        port = s.mllp()
        base = s.api()
        s.worker(concurrency=1)
        send(port, [oru("E1", "E1-0", now - timedelta(hours=20), 118, **erika),
                    oru("E1", "E1-1", now - timedelta(hours=1), 128, **erika),
                    oru("P2", "P2-0", now - timedelta(hours=2), 112, received=now,
                        name="NOWAK^Piotr", born="19581103", sex="M", location="402^A")])
        wait_for(lambda: all_processed(pg_engine, 3), 60, "the worker")
        age = years(date(1952, 3, 14), now.date())

        phone = browser.new_page(viewport={"width": 390, "height": 844})
        sign_in(phone, base, "nurse.kim", "ward-pass-1")
        cards = phone.locator("[data-testid=card]")
        assert cards.count() == 2
        first = cards.nth(0).inner_text()
        assert "HARTMANN, Erika" in first and f"{age} y" in first
        assert "room 401 · bed B" in first and "MRN E1" in first
        assert "NOWAK, Piotr" in cards.nth(1).inner_text()
        # At 390 px nothing is cut off sideways: the page is no wider than the screen.
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        phone.wait_for_selector("#live-status:has-text('Live updates on')", timeout=20_000)
        # A third patient's alert arrives live: every card is kept, the new one added.
        send(port, [oru("K3", "K3-0", now - timedelta(minutes=30), 110, received=now,
                        name="KOWALCZYK^Jan", born="19490301", sex="M",
                        location="403^A")])
        phone.wait_for_selector("[data-testid=card]:has-text('KOWALCZYK, Jan')",
                                timeout=30_000)
        assert cards.count() == 3
        assert "HARTMANN, Erika" in phone.locator("[data-testid=board]").inner_text()
        critical = phone.locator("tr[data-rule=OVERCORRECTION_24H]")
        assert "Unacknowledged" in critical.inner_text()
        critical.locator("button.ack").click()
        phone.wait_for_selector(
            "tr[data-rule=OVERCORRECTION_24H]:has-text('Acknowledged by nurse.kim')")
        phone.locator("[data-testid=card]:has-text('MRN E1') a").first.click()
        banner = phone.locator("[data-testid=patient-banner]")
        banner.wait_for()
        text = banner.inner_text()
        assert "HARTMANN, Erika" in text and "Born 14 Mar 1952" in text
        assert "Female" in text and "room 401 · bed B" in text
        phone.close()
