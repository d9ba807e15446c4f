"""Alerts from history never reach the board (issue 14, item 3): a test message's
overcorrection (MSH-11 T) is recorded and shown on the patient page as history, labelled,
while the nurse's board and its counts leave it out. Chromium against the API process on
PostgreSQL; the hospital is tests/integration/hospital.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from monitor.storage.tables import Alert, Patient
from tests.e2e.test_admin_browser import sign_in_at
from tests.hl7_builders import oru
from tests.integration.hospital import PASSWORD, Hospital, build
from tests.integration.stack import stack


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    yield made
    made.close()


def test_a_test_messages_alert_is_history_on_the_patient_page_and_never_on_the_board(
        h: Hospital, pg_migrated: str, redis_url: str, tmp_path: Path,
        browser: Any) -> None:
    now = datetime.now(UTC)
    for order, hours, value in (("T-0", 20, 120), ("T-1", 1, 130)):  # +10 in 19 h
        assert h.receive(oru("TEST-7", order, now - timedelta(hours=hours), value,
                             processing="T", name="PROBE^Tess"), now=now) is not None
    with h.rt.uow() as uow:
        pid = uow.session.scalar(select(Patient.id).where(Patient.identifier == "TEST-7"))
        alert = uow.session.scalar(select(Alert).where(Alert.patient_id == pid))
        assert alert is not None and alert.severity == "critical" and not alert.notify
        alert_id = alert.id
    with stack(pg_migrated, redis_url, tmp_path) as s:
        base = s.api()
        page = browser.new_page()
        sign_in_at(page, base, "/board", "nurse.a", PASSWORD)
        page.wait_for_selector("[data-testid=board]")
        board = page.inner_text("main")
        assert "HARTMANN, Erika" in board  # the ward's real alerts are there
        assert "TEST-7" not in board and "PROBE" not in board
        # The count is of the alerts on the board (all unacknowledged), without it.
        rows = page.locator("[data-testid=card] tr[data-rule]").count()
        assert page.inner_text("[data-testid=counts]").startswith(f"{rows} unacknowledged")

        page.goto(f"{base}/patients/{pid}")
        label = page.inner_text(f"[data-testid=historical-{alert_id}]")
        assert "history: never paged (from a test message); not on the board" in label
        assert "CRITICAL" in page.inner_text("section[aria-labelledby=alerts-h]")
        page.close()
