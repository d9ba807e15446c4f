"""The admin page in Chromium against the API process on PostgreSQL: every form answers
with a confirmation, the change shows on the page and in its recent changes (the audit
log); a reject's raw payload is readable; a pseudo feed is never listed as live (issue
14, item 6). Times are entered and shown in the display zone, here Europe/Berlin.

The hospital (two wards, their people, one reject) is tests/integration/hospital.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from monitor.services.intake.hl7 import commit_hl7, refused_frame
from monitor.services.intake.pipeline import UNAUTHENTICATED
from monitor.storage.tables import RejectRow
from tests.hl7_builders import oru
from tests.integration.hospital import PASSWORD, WARD_A, Hospital, build
from tests.integration.stack import stack

BERLIN = ZoneInfo("Europe/Berlin")
NEW_PASSWORD = "a long new passphrase"


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    yield made
    made.close()


def sign_in_at(page: Any, base: str, path: str, user: str, password: str) -> None:
    page.goto(f"{base}{path}")  # not signed in: the login page, which comes back here
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def submit(page: Any, button: Any) -> str:
    """Send a form as the admin does and read the confirmation the next page shows."""
    with page.expect_navigation():
        button.click()
    return str(page.locator("[data-testid=flash]").inner_text())


def latest_change(page: Any) -> str:
    return str(page.locator("[data-testid=changes] tbody tr").first.inner_text())


def received(h: Hospital) -> datetime:
    with h.rt.uow() as uow:
        found = uow.session.get(RejectRow, h.reject_id())
        assert found is not None
        return found.created_at


def berlin(moment: datetime) -> str:
    """'Wed 2 Dec 16:10': how the wards read a time, in Berlin."""
    local = moment.astimezone(BERLIN)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def row(page: Any, table: str, first_cell: str) -> Any:
    return page.locator(f"[data-testid={table}] tbody tr:has(td:text-is('{first_cell}'))")


def test_an_admin_manages_people_wards_roster_channels_and_feeds_from_the_page(
        h: Hospital, pg_migrated: str, redis_url: str, tmp_path: Path,
        browser: Any) -> None:
    # A connection bound to no feed: listed, but never as a live sender.
    commit_hl7(h.rt.uow(), [refused_frame(UNAUTHENTICATED, "connection", "no feed bound",
                                          "x", datetime.now(UTC), answers=None)],
               datetime.now(UTC))
    # A training system: its results are test messages (MSH-11 T), never a live feed.
    assert h.receive(oru("T1", "T1-0", datetime.now(UTC), 120, processing="T"),
                     "hl7:trainer") is not None
    with stack(pg_migrated, redis_url, tmp_path) as s:
        base = s.api(SODIUM_TIMEZONE="Europe/Berlin")
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in_at(page, base, "/admin", "root", PASSWORD)
        assert page.locator("h1").inner_text() == "Administration"
        assert "Times are entered and shown in Europe/Berlin" in page.inner_text("main")
        assert "No changes yet." in page.locator("[data-testid=changes]").inner_text()

        # Users: add one, disable her, give another a new password.
        form = page.locator("[data-testid=add-user]")
        form.locator("input[name=username]").fill("nurse.new")
        form.locator("input[name=display_name]").fill("Nina New")
        form.locator("select[name=role]").select_option("nurse")
        form.locator("input[name=password]").fill(NEW_PASSWORD)
        form.locator(f"input[name=wards][value={WARD_A}]").check()
        assert submit(page, form.locator("button")) == "User nurse.new (nurse) added."
        added = page.locator("tr[data-user='nurse.new']").inner_text()
        assert "Nina New" in added and WARD_A in added and "active" in added
        assert "add-user" in latest_change(page) and "user nurse.new" in latest_change(page)

        flash = submit(page, page.locator("tr[data-user='nurse.new'] button",
                                          has_text="Disable"))
        assert flash.startswith("User nurse.new disabled;")
        assert "disabled" in page.locator("tr[data-user='nurse.new']").inner_text()
        assert page.locator("tr[data-user='nurse.new'] button", has_text="Enable").count() == 1
        assert "disable-user" in latest_change(page)
        flash = submit(page, page.locator("tr[data-user='nurse.new'] button",
                                          has_text="Enable"))
        assert flash == "User nurse.new enabled."
        assert "active" in page.locator("tr[data-user='nurse.new']").inner_text()
        assert "enable-user" in latest_change(page)

        nurse_b = page.locator("tr[data-user='nurse.b']")
        nurse_b.locator("summary").click()
        nurse_b.locator("input[name=password]").fill(NEW_PASSWORD)
        flash = submit(page, nurse_b.locator("button", has_text="Set password"))
        assert flash.startswith("New password set for nurse.b;")
        assert "reset-password" in latest_change(page)
        other = browser.new_context()
        her = other.new_page()
        sign_in_at(her, base, "/board", "nurse.b", NEW_PASSWORD)  # the new one works
        assert her.locator("[data-testid=board]").count() == 1
        other.close()

        # A ward's policy and escalation timings.
        ward = page.locator(f"tr[data-ward={WARD_A}]")
        ward.locator("summary").click()
        ward.locator("select[name=policy]").select_option("eu-2014")
        ward.locator("input[name=critical_minutes]").fill("5")
        ward.locator("input[name=warning_minutes]").fill("20")
        ward.locator("input[name=repeat_minutes]").fill("7")
        flash = submit(page, ward.locator("button", has_text=f"Save ward {WARD_A}"))
        assert flash == (f"Ward {WARD_A} saved: policy eu-2014, critical after 5 min, "
                         "warning after 20 min, repeat every 7 min.")
        shown = page.locator(f"tr[data-ward={WARD_A}]").inner_text()
        assert "eu-2014" in shown and "5 / 20 min" in shown and "7 min" in shown
        assert "change-ward" in latest_change(page) and "policy: eu-2014" in latest_change(page)

        # A shift, entered in the wards' time (Berlin), shown in it.
        shift = page.locator("[data-testid=add-shift]")
        shift.locator("select[name=ward]").select_option(WARD_A)
        shift.locator("select[name=username]").select_option("dr.a")
        shift.locator("input[name=starts]").fill("2030-01-07T08:00")
        shift.locator("input[name=ends]").fill("2030-01-07T20:00")
        flash = submit(page, shift.locator("button"))
        assert flash == f"dr.a on call for {WARD_A} from Mon 7 Jan 2030 08:00 to Mon 7 Jan " \
                        "2030 20:00."
        rostered = page.locator("[data-testid=roster] tbody tr:has(td:text-is('dr.a'))")
        assert "Mon 7 Jan 2030 08:00" in rostered.inner_text()
        assert "add-shift" in latest_change(page)
        assert "from: Mon 7 Jan 2030 08:00; to: Mon 7 Jan 2030 20:00" in latest_change(page)
        flash = submit(page, rostered.locator("button", has_text="Remove"))
        assert flash.startswith("Shift ") and flash.endswith(" removed.")
        assert rostered.count() == 0
        assert "end-shift" in latest_change(page)

        # A channel added, its MRN unmasked, then disabled.
        channel = page.locator("[data-testid=add-channel]")
        channel.locator("select[name=username]").select_option("nurse.a")
        channel.locator("input[name=email]").fill("nurse.a@hospital.example")
        flash = submit(page, channel.locator("button"))
        assert flash.startswith("Email channel ") and flash.endswith(" added for nurse.a.")
        listed = row(page, "channels", "nurse.a")
        assert "nurse.a@hospital.example" in listed.inner_text()
        assert "active" in listed.inner_text()
        assert "add-channel" in latest_change(page)
        flash = submit(page, listed.locator("button", has_text="Unmask MRN"))
        assert flash.endswith("(email): MRN unmasked in its messages.")
        assert "yes" in row(page, "channels", "nurse.a").inner_text()
        assert "mask-channel" in latest_change(page)
        assert "show_mrn: True" in latest_change(page)
        flash = submit(page, listed.locator("button", has_text="Disable"))
        assert flash.endswith("(email) disabled.")
        assert "disabled" in row(page, "channels", "nurse.a").inner_text()
        assert "disable-channel" in latest_change(page)

        # A feed bound, then changed: the same name replaces its networks and permissions.
        feed = page.locator("[data-testid=bind-feed]")
        feed.locator("input[name=name]").fill("LAB2")
        feed.locator("input[name=allow_ips]").fill("10.9.0.0/24")
        flash = submit(page, feed.locator("button"))
        assert flash == ("Feed hl7:LAB2 bound: certificate CN none, networks 10.9.0.0/24, "
                         "may send results.")
        assert "10.9.0.0/24" in row(page, "feeds", "hl7:LAB2").inner_text()
        feed.locator("input[name=name]").fill("LAB2")
        feed.locator("input[name=allow_ips]").fill("10.8.0.0/24")
        feed.locator("input[name=allow][value=adt]").check()
        flash = submit(page, feed.locator("button"))
        assert flash == ("Feed hl7:LAB2 bound: certificate CN none, networks 10.8.0.0/24, "
                         "may send adt, results.")
        changed = row(page, "feeds", "hl7:LAB2").inner_text()
        assert "10.8.0.0/24" in changed and "10.9.0.0/24" not in changed
        assert "results, adt" in changed
        assert "bind-feed" in latest_change(page) and "feed hl7:LAB2" in latest_change(page)

        # Liveness: the lab that sent is live; a training system and a connection bound to
        # no feed are not.
        assert "live" in row(page, "feeds", "hl7:lis").inner_text()
        assert "test messages only" in row(page, "feeds", "hl7:trainer").inner_text()
        pseudo = row(page, "feeds", UNAUTHENTICATED).inner_text()
        assert "not a sender" in pseudo and "live" not in pseudo.replace("not a sender", "")

        # The reject's raw payload, one segment a line, then a retry confirmed.
        reject = page.locator(f"tr[data-reject='{h.reject_id()}']")
        assert reject.locator("td").first.inner_text() == berlin(received(h))  # never ISO
        with page.expect_navigation():
            reject.locator("a", has_text="View payload").click()
        payload = page.locator("[data-testid=payload]").inner_text()
        assert "not-a-number" in payload
        assert any(line.startswith("MSH|") for line in payload.splitlines())
        assert any(line.startswith("OBX|") for line in payload.splitlines())
        assert "Payload as received" in page.inner_text("main")
        flash = submit(page, page.locator("main form button", has_text="Retry"))
        assert flash.startswith("Reject ")
        assert "retry-reject" in latest_change(page)
        page.close()
