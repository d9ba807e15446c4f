"""The nurse's and the physician's walk-through of docs/usability.md, on the demo as
`make demo` runs it (display zone Europe/Berlin): every step checks what the page shows,
and leaves the screenshot the document and the README show (docs/screenshots/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.demo_run import running_demo
from tests.e2e.test_browser import sign_in

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ERIKA = "[data-testid=card]:has-text('MRN DEMO-001')"


def shot(page: Any, name: str, full: bool = True) -> None:
    page.screenshot(path=str(SHOTS / name), full_page=full)


def test_the_nurse_and_the_physician_walk_through_the_demo(tmp_path: Path,
                                                          browser: Any) -> None:
    pages: list[Any] = []
    with running_demo(tmp_path, pages, SODIUM_TIMEZONE="Europe/Berlin") as base:
        # -- the nurse, at the ward's desktop
        nurse = browser.new_page(viewport={"width": 1280, "height": 900})
        pages.append(nurse)
        sign_in(nurse, base, "nurse.kim", "demo-nurse")
        card = nurse.locator(ERIKA)
        card.locator("tr[data-rule=OVERCORRECTION_24H]").wait_for(timeout=120_000)
        text = card.inner_text()
        assert "HARTMANN, Erika" in text and "CRITICAL" in text and "collected" in text
        assert "Times in Europe/Berlin." in nurse.inner_text("body")
        shot(nurse, "board.png")

        # -- the same board on her phone: one card per patient, labelled rows
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        pages.append(phone)
        sign_in(phone, base, "nurse.kim", "demo-nurse")
        small = phone.locator(ERIKA)
        small.wait_for()
        assert "HARTMANN, Erika" in small.inner_text()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        shot(phone, "board-phone.png", full=False)

        # -- she acknowledges the critical alert: dimmed, by her, with the time
        card.locator("tr[data-rule=OVERCORRECTION_24H] button.ack").click()
        nurse.wait_for_selector(f"{ERIKA} tr[data-rule=OVERCORRECTION_24H]"
                                ":has-text('Acknowledged by nurse.kim')")
        assert "acknowledge done" in nurse.inner_text("body")
        shot(nurse, "board-acknowledged.png")

        # -- the ward census: every patient, the rise and the tier
        nurse.goto(f"{base}/wards/MED4")
        census = nurse.locator("[data-testid=census]")
        census.wait_for()
        assert "HARTMANN, Erika" in census.inner_text()
        shot(nurse, "census.png")

        # -- the physician opens Erika from the board
        doctor = browser.new_page(viewport={"width": 1280, "height": 900})
        pages.append(doctor)
        sign_in(doctor, base, "dr.ali", "demo-doctor")
        doctor.locator(f"{ERIKA} tr.patient-head a").click()
        doctor.wait_for_selector("[data-testid=chart] svg")
        banner = doctor.inner_text("[data-testid=patient-banner]")
        assert "HARTMANN, Erika" in banner and "Born 14 Mar 1952" in banner
        chart = doctor.inner_text("[data-testid=chart]")
        assert "Na⁺ mmol/L" in chart and "now" in chart
        shot(doctor, "patient.png")

        # -- records a risk factor from the policy's list, with a reason
        add = doctor.locator("[data-testid=add-risk]")
        add.locator("select").select_option(label="liver disease (ICD-10 K70–K77)")
        add.locator("input[name=reason]").fill("cirrhosis on ultrasound")
        add.locator("button").click()
        doctor.wait_for_selector("[data-testid=flash]")
        assert "cirrhosis on ultrasound" in doctor.inner_text("[data-testid=risk-factors]")
        shot(doctor, "patient-risk-factor.png")

        # -- and prints the page for the notes: printed at, by whom, no forms
        doctor.emulate_media(media="print")
        printed = doctor.inner_text("[data-testid=printed]")
        assert "by dr.ali" in printed and "Europe/Berlin" in printed
        assert not doctor.locator("[data-testid=add-risk]").is_visible()
        shot(doctor, "patient-print.png")
