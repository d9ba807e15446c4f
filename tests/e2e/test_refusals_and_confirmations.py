"""Refusals and confirmations in Chromium against the API process on PostgreSQL (issue 14,
item 7): a nurse of another ward and an unknown patient get an HTML page that says so,
while the API answers the same questions in JSON; every action on the board and the
patient page, and signing out, is confirmed on the page it leads to.

The hospital (two wards, their people, their alerts) is tests/integration/hospital.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.e2e.test_admin_browser import sign_in_at, submit
from tests.integration.hospital import PASSWORD, WARD_A, Hospital, build
from tests.integration.stack import stack

UNKNOWN = 2_000_000  # a patient id no row has


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    yield made
    made.close()


def refusal(page: Any, base: str, path: str, status: int) -> str:
    reply = page.goto(f"{base}{path}")
    assert reply.status == status
    assert "text/html" in reply.headers["content-type"]
    assert page.locator("a[href='/board']", has_text="Back to the alert board").count() == 1
    return str(page.locator("[data-testid=refusal]").inner_text())


def json_reply(page: Any, base: str, path: str, status: int) -> Any:
    """The API opened in the same browser, signed in: JSON, never the page."""
    reply = page.goto(f"{base}{path}")
    assert reply.status == status
    assert reply.headers["content-type"].startswith("application/json")
    return json.loads(reply.text())


def test_a_nurse_of_another_ward_and_an_unknown_patient_get_a_page_the_api_json(
        h: Hospital, pg_migrated: str, redis_url: str, tmp_path: Path,
        browser: Any) -> None:
    a1 = h.patients["A1"]
    with stack(pg_migrated, redis_url, tmp_path) as s:
        base = s.api()
        context = browser.new_context()
        page = context.new_page()
        sign_in_at(page, base, "/board", "nurse.b", PASSWORD)  # ward SURG2 only
        text = refusal(page, base, f"/patients/{a1}", 404)
        assert "Not found" in text and "No such patient, or it is not on one of your wards" \
            in text and "You are signed in as nurse.b" in text
        assert "HARTMANN" not in page.inner_text("body")  # nothing of the patient shown
        text = refusal(page, base, f"/wards/{WARD_A}", 404)
        assert "No such ward, or it is not on one of your wards" in text
        text = refusal(page, base, f"/patients/{UNKNOWN}", 404)
        assert "Not found" in text and "No such patient" in text
        text = refusal(page, base, "/admin", 403)
        assert "Not allowed" in text
        assert page.title().startswith("Not allowed")

        assert json_reply(page, base, f"/api/v1/patients/{a1}", 404) == {
            "detail": "no such patient"}
        assert json_reply(page, base, f"/api/v1/patients/{UNKNOWN}", 404) == {
            "detail": "no such patient"}
        assert "detail" in json_reply(page, base, "/api/v1/users", 403)
        context.close()


def test_every_action_on_the_board_and_the_patient_page_is_confirmed(
        h: Hospital, pg_migrated: str, redis_url: str, tmp_path: Path,
        browser: Any) -> None:
    critical, warning = h.alert("A1"), h.alert("A2")
    with stack(pg_migrated, redis_url, tmp_path) as s:
        base = s.api()
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        sign_in_at(page, base, "/board", "nurse.a", PASSWORD)
        shelve = page.locator(f"form[action='/alerts/{warning}/shelve']")
        shelve.locator("select[name=reason]").select_option("Physician aware")
        assert submit(page, shelve.locator("button")) == f"Alert {warning}: shelve done."
        assert "Shelved" in page.locator(f"tr:has([data-testid=unshelve-{warning}])")\
            .inner_text()
        flash = submit(page, page.locator(f"[data-testid=unshelve-{warning}]"))
        assert flash == f"Alert {warning}: unshelve done."
        assert page.locator(f"[data-testid=unshelve-{warning}]").count() == 0

        # On the patient page the confirmation is shown there, not on the board.
        page.goto(f"{base}/patients/{h.patients['A1']}")
        flash = submit(page, page.locator(f"[data-testid=ack-{critical}]"))
        assert flash == f"Alert {critical}: acknowledge done."
        assert page.locator("[data-testid=patient-banner]").count() == 1
        assert page.locator(f"[data-testid=ack-{critical}]").count() == 0
        assert "active · acknowledged" in page.inner_text("main")

        with page.expect_navigation():
            page.click("header form.who button")
        assert page.locator("[data-testid=flash]").inner_text() == "You are signed out."
        assert page.locator("input[name=username]").count() == 1

        sign_in_at(page, base, "/board", "dr.a", PASSWORD)
        page.goto(f"{base}/patients/{h.patients['A2']}")
        resolve = page.locator(f"form[action='/alerts/{warning}/resolve']")
        resolve.locator("input[name=note]").fill("repeat sample drawn, fluids stopped")
        assert submit(page, resolve.locator("button")) == f"Alert {warning}: resolve done."
        assert page.locator(f"form[action='/alerts/{warning}/resolve']").count() == 0
        context.close()


def test_a_physician_resolves_from_the_board(h: Hospital, pg_migrated: str,
                                             redis_url: str, tmp_path: Path,
                                             browser: Any) -> None:
    warning = h.alert("A2")
    with stack(pg_migrated, redis_url, tmp_path) as s:
        base = s.api()
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        sign_in_at(page, base, "/board", "dr.a", PASSWORD)
        try:
            assert "dr.a (physician)" in page.inner_text("header")
            resolve = page.locator(f"form[action='/alerts/{warning}/resolve']")
            assert resolve.count() == 1
            resolve.locator("input[name=note]").fill("repeat sample drawn")
            assert submit(page, resolve.locator("button")) == \
                f"Alert {warning}: resolve done."
        finally:
            context.close()
