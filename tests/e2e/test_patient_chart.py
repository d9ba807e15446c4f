"""The patient chart in Chromium, as the physician reads it: the axis in Na⁺ mmol/L, ticks
every 6 h of the wards' clock, the "now" line, the ceiling in numbers, the goal, the next
sodium due, a legend for every mark, and a potassium strip only for a patient with
potassium (issue 14, item 4); the orders and administrations on its timeline (issue 16,
item 4)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.storage.tables import Patient
from tests.e2e.test_browser import people, send, sign_in
from tests.hl7_builders import oru, rde
from tests.integration.helpers import all_processed
from tests.integration.stack import stack, wait_for

POTASSIUM = "2823-3"  # serum potassium (LOINC)


def patient_id(engine: Engine, mrn: str) -> int:
    with Session(engine) as s:
        found = s.scalar(select(Patient.id).where(Patient.identifier == mrn))
    assert found is not None
    return found


def test_the_physician_reads_the_chart_in_numbers_and_words(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path,
        browser: Any) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    people(pg_migrated, now)
    with stack(pg_migrated, redis_url, tmp_path) as s:
        port = s.mllp()
        base = s.api(SODIUM_DISPLAY_TIMEZONE="Europe/Berlin")
        s.worker(concurrency=1)
        # N1: 118 a day ago, a low potassium (high risk: 6 per 24 h), now 123.
        send(port, [oru("N1", "N1-0", now - timedelta(hours=20), 118, received=now),
                    oru("N1", "N1-K", now - timedelta(hours=10), 3.2, loinc=POTASSIUM,
                        received=now),
                    oru("N1", "N1-1", now - timedelta(hours=8), 121, received=now),
                    oru("N1", "N1-2", now - timedelta(hours=1), 123, received=now),
                    oru("N2", "N2-0", now - timedelta(hours=10), 121, received=now),
                    oru("N2", "N2-1", now - timedelta(hours=2), 124, received=now)])
        wait_for(lambda: all_processed(pg_engine, 6), 60, "the worker")

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, base, "dr.ali", "ward-pass-2")
        page.goto(f"{base}/patients/{patient_id(pg_engine, 'N1')}")
        chart = page.locator("[data-testid=chart] svg")
        chart.wait_for()
        svg_text = chart.text_content() or ""
        assert "Na\u207a mmol/L" in svg_text
        ticks = page.locator("[data-testid=chart] text.tick-label").all_text_contents()
        assert ticks and all(re.fullmatch(r"(\w{3} )?(00|06|12|18):00", t) for t in ticks)
        assert any(re.fullmatch(r"\w{3} \d\d:00", t) for t in ticks)  # a day named
        assert page.locator("[data-testid=now]").text_content() == "now"
        # 118 + 6 = 124 until 118 leaves the 24 h window; 123 now: 1 mmol/L left.
        ceiling = r"≤ 124 until (\w{3} )?\d\d:\d\d — 1 mmol/L left"
        assert re.fullmatch(ceiling, page.locator("[data-testid=ceiling-text]").inner_text())
        assert re.search(ceiling, svg_text)
        assert "goal 4–6 per 24 h" in svg_text
        assert page.locator("[data-testid=goal-text]").inner_text().startswith(
            "Goal 4–6 mmol/L per 24 h from the episode's lowest value, 118")
        due = page.locator("[data-testid=next-due-text]").inner_text()
        assert re.fullmatch(r"Next sodium due \w{3} \d+ \w{3} \d\d:\d\d", due)
        assert page.locator("[data-testid=next-due]").count() == 1
        legend = page.locator("[data-testid=legend]").inner_text()
        for entry in ("allowed corridor (high risk: ≤ 6 per 24 h, ≤ 12 per 48 h)",
                      "ceiling now", "goal", "projection", "now", "next sodium due",
                      "laboratory", "point-of-care", "ring: result that triggered an alert",
                      "struck: corrected or removed", "suspect: lab flag or artefact"):
            assert entry in legend, entry
        assert page.locator("[data-testid=potassium]").count() == 1
        assert "K\u207a mmol/L" in svg_text

        page.goto(f"{base}/patients/{patient_id(pg_engine, 'N2')}")
        page.locator("[data-testid=chart] svg").wait_for()
        assert page.locator("[data-testid=potassium]").count() == 0
        assert "K\u207a" not in (page.locator("[data-testid=chart]").text_content() or "")
        assert "Na\u207a mmol/L" in (page.locator("[data-testid=chart]").text_content() or "")
        page.close()


def test_an_order_of_hypertonic_saline_is_marked_on_the_chart_with_its_words(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path,
        browser: Any) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    people(pg_migrated, now)
    with stack(pg_migrated, redis_url, tmp_path) as s:
        port = s.mllp()
        base = s.api()
        s.worker(concurrency=1)
        send(port, [oru("N3", "N3-0", now - timedelta(hours=12), 116, received=now),
                    rde("N3", "RX1", now - timedelta(hours=11), "Sodium chloride 3% 150 mL IV",
                        amount="150"),
                    rde("N3", "RX2", now - timedelta(hours=4), "Desmopressin 2 microgram IV",
                        amount="2", unit="microgram", control="DC"),
                    oru("N3", "N3-1", now - timedelta(hours=2), 121, received=now)])
        wait_for(lambda: all_processed(pg_engine, 4), 60, "the worker")

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, base, "dr.ali", "ward-pass-2")
        page.goto(f"{base}/patients/{patient_id(pg_engine, 'N3')}")
        page.locator("[data-testid=chart] svg").wait_for()
        lane = page.locator("[data-testid=chart] [data-testid=treatment]")
        assert lane.locator("text.unit").text_content() == "Treatment"
        saline = lane.locator("[data-testid=medication-mark][data-effect=raises]")
        saline.wait_for()
        assert saline.is_visible()
        box = saline.bounding_box()
        axis = page.locator("[data-testid=chart] line.axis-line").bounding_box()
        assert box and axis and box["width"] >= 8 and box["y"] > axis["y"]  # under the axis
        title = saline.locator("title").text_content() or ""
        assert re.fullmatch(r"hypertonic saline \(raises sodium\): Sodium chloride 3% 150 mL "
                            r"IV, 150 mL Intravenous; ordered \w{3} \d+ \w{3} \d\d:\d\d, "
                            r"active", title), title
        # Hollow: an order, drawn on white; filled would be an administration.
        assert saline.evaluate("e => getComputedStyle(e).fill") == "rgb(255, 255, 255)"
        assert lane.locator("text.med-label").first.text_content() == "hypertonic saline"
        stopped = lane.locator("[data-testid=medication-mark][data-effect=lowers]")
        assert stopped.is_visible()
        assert (stopped.locator("title").text_content() or "").endswith(
            "stopped; not given: the rules leave it out")
        assert float(stopped.evaluate("e => getComputedStyle(e).opacity")) < 1  # faded
        legend = page.locator("[data-testid=legend]")
        assert legend.locator("[data-testid=legend-raises]").inner_text().strip().startswith(
            "raises sodium: hypertonic saline")
        assert legend.locator("[data-testid=legend-lowers]").is_visible()
        for entry in ("hollow: ordered", "filled: given", "struck: cancelled or not given",
                      "unknown class"):
            assert entry in legend.inner_text(), entry
        page.close()
