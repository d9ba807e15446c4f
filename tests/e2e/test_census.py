"""The ward census in Chromium against the real stack (issue 14, item 5): what the nurse
reads is the engine's risk tier (a hypokalemic patient is high risk), a signed 24 h change
with the rise from the 24 h low labelled, cleared alerts marked cleared, and the most urgent
patient on top."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tests.e2e.test_browser import people, send, sign_in
from tests.hl7_builders import oru
from tests.integration.helpers import all_processed
from tests.integration.stack import stack, wait_for


def text(locator: Any) -> str:
    return re.sub(r"\s+", " ", locator.inner_text()).strip()


def test_the_census_reads_as_the_engine_does_most_urgent_first(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path,
        browser: Any) -> None:
    now = datetime.now(UTC)
    people(pg_migrated, now)

    def at(hours: float) -> datetime:
        return now - timedelta(hours=hours)

    messages = [
        oru("C1", "C1-0", at(20), 120, location="401^B", received=now),
        oru("C1", "C1-1", at(1), 129, location="401^B", received=now),  # +9: critical
        oru("C2", "C2-0", at(20), 127, received=now),
        oru("C2", "C2-1", at(1), 136, received=now),  # +9 from 127: warning
        oru("C3", "C3-0", at(20), 120, received=now),
        oru("C3", "C3-1", at(1), 127, received=now),  # +7: too fast only at high risk
        oru("C3", "C3-k", at(2), 3.0, loinc="2823-3", received=now),  # hypokalemia
        oru("C4", "C4-0", at(20), 130, location="0100^01", received=now),
        oru("C4", "C4-1", at(1), 128, location="0100^01", received=now),  # -2, no alert
        oru("C5", "C5-0", at(6), 118, location="0300^01", received=now),  # severe
        oru("C5", "C5-1", at(1), 121, location="0300^01", received=now),  # cleared
    ]
    with stack(pg_migrated, redis_url, tmp_path) as s:
        port = s.mllp()
        base = s.api()
        s.worker(concurrency=1)
        send(port, messages)
        wait_for(lambda: all_processed(pg_engine, len(messages)), 60, "the worker")

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, base, "nurse.kim", "ward-pass-1")
        # The nurse acknowledges C1's alerts on the board.
        card = page.locator("[data-testid=card]:has-text('MRN C1')")
        while card.locator("button.ack").count():
            with page.expect_navigation():
                card.locator("button.ack").first.click()
        page.click("nav >> text=Ward MED4")
        page.wait_for_selector("[data-testid=census]")

        rows = page.locator("[data-testid=census-row]")
        order = [rows.nth(i).get_attribute("data-mrn") for i in range(rows.count())]
        # Unacknowledged critical (C3, high risk), warning (C2), the handled by room (C5
        # cleared in room 0300, C1 acknowledged in 401), then no alert (C4).
        assert order == ["C3", "C2", "C5", "C1", "C4"]
        assert page.locator("select[name=sort]").input_value() == "urgency"

        def row(mrn: str, testid: str) -> str:
            return text(page.locator(f"[data-testid=census-row][data-mrn={mrn}] "
                                     f"[data-testid={testid}]"))

        assert row("C3", "tier") == "high risk hypokalemia (potassium below 3.5 mmol/L)"
        assert row("C2", "tier") == "standard risk"
        assert row("C3", "change") == "+7 rise from 24 h low: +7"
        assert row("C4", "change") == "\u22122 rise from 24 h low: 0"
        assert row("C5", "alerts").endswith("cleared")
        assert "CRITICAL Severe hyponatremia" in row("C5", "alerts")
        assert "acknowledged" in row("C1", "alerts")
        cleared = page.locator("[data-mrn=C5] .census-alert.cleared-unacknowledged")
        assert float(cleared.evaluate("e => getComputedStyle(e).opacity")) < 1  # dimmed

        # The other sorts are still there: by room and bed, C4's room 0100 comes first.
        page.select_option("select[name=sort]", "bed")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**sort=bed**")
        assert rows.first.get_attribute("data-mrn") == "C4"
        page.close()
