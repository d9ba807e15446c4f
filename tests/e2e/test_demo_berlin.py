"""`sodium-monitor demo` with SODIUM_TIMEZONE=Europe/Berlin in Chromium (issue 14,
acceptance): the board and the patient page show the patient's name and every time in
Berlin, the zone named once per page. The demo runs on its embedded default (SQLite), as
`make demo` does; its collection times are read back through the API it serves."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.e2e.demo_run import running_demo
from tests.e2e.test_browser import sign_in
from tests.integration.stack import wait_for

BERLIN = ZoneInfo("Europe/Berlin")


def shown(moment: datetime, zone: ZoneInfo) -> str:
    """'Wed 2 Dec 15:40': how the wards read a time."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def test_the_demo_in_berlin_shows_names_and_berlin_times_on_board_and_patient_page(
        tmp_path: Path, browser: Any) -> None:
    pages: list[Any] = []
    with running_demo(tmp_path, pages, SODIUM_TIMEZONE="Europe/Berlin") as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        pages.append(page)
        sign_in(page, base, "dr.ali", "demo-doctor")

        card = page.locator("[data-testid=card]:has-text('MRN DEMO-001')")
        card.wait_for(timeout=90_000)
        href = card.locator("tr.patient-head a").get_attribute("href")

        def sodium_of_erika() -> list[dict[str, Any]]:
            return [r for r in page.request.get(f"{base}/api/v1{href}/results").json()
                    if r["analyte"] == "sodium"]
        # Her five samples (the last sent live), after which she gets no more.
        wait_for(lambda: len(sodium_of_erika()) == 5, 90, "DEMO-001's results", every=1)
        page.reload()
        assert "HARTMANN, Erika" in card.inner_text()
        sodium = sodium_of_erika()
        first = datetime.fromisoformat(sodium[0]["collected_at"])
        latest = datetime.fromisoformat(sodium[-1]["collected_at"])
        assert sodium[-1]["value_mmol_l"] == 126
        assert first.utcoffset() is not None and latest.utcoffset() is not None
        assert shown(latest, BERLIN) != shown(latest, UTC)  # December: Berlin is UTC+1

        critical = card.locator("tr[data-rule=OVERCORRECTION_24H]").inner_text()
        assert f"collected {shown(latest, BERLIN)}" in critical
        assert shown(latest, UTC) not in critical
        board = page.inner_text("body")
        assert board.count("Europe/Berlin") == 1 and "Times in Europe/Berlin." in board
        assert "UTC" not in board

        page.goto(f"{base}{href}")
        banner = page.locator("[data-testid=patient-banner]").inner_text()
        assert "HARTMANN, Erika" in banner and "Born 14 Mar 1952" in banner
        text = page.inner_text("main")
        assert shown(first, BERLIN) in text and shown(latest, BERLIN) in text
        whole = page.inner_text("body")
        assert whole.count("Europe/Berlin") == 1 and "UTC" not in whole
