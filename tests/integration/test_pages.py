"""The dashboard pages: sign-in, roles and wards on every page and form, CSRF, audit, what
the pages show, and that they work offline and without JavaScript.

Real PostgreSQL, the real app through FastAPI's TestClient; the hospital (two wards, their
people, patients loaded through HL7) is described in tests/integration/hospital.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine

from monitor.storage.tables import Alert
from tests.integration.hospital import PASSWORD, Hospital, build, fill, hidden_csrf

PAGES = ["/board", "/wards/MED4", "/patients/{p}", "/admin"]
FORMS = {  # path: the form fields besides csrf
    "/alerts/{a}/ack": {},
    "/alerts/{a}/shelve": {"reason": "Dr Ali reviewing, repeat at noon", "hours": "1"},
    "/alerts/{a}/resolve": {"note": "treated"},
    "/admin/rejects/{j}/retry": {},
}
OPEN = ["/healthz", "/readyz", "/login", "/docs", "/openapi.json", "/fhir/metadata",
        "/static/app.css"]


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    yield made
    made.close()


def submit(c: TestClient, h: Hospital, path: str, patient: str = "A1",
           csrf: str | None = None) -> Response:
    """A plain HTML form POST, as a browser without JavaScript sends it."""
    data = dict(FORMS[path])
    if csrf is not None:
        data["csrf"] = csrf
    reply: Response = c.post(fill(path, h, patient), data=data)
    return reply


def page_csrf(c: TestClient) -> str:
    return hidden_csrf(c.get("/board").text)


def login(c: TestClient, username: str, password: str) -> Response:
    reply: Response = c.post("/login", data={"username": username, "password": password})
    return reply


def board_rows(html: str) -> list[tuple[int, str, str]]:
    """(alert id, severity, the row's HTML) in the board's order."""
    rows = re.findall(r'<tr class="sev-(\w+)[^"]*" data-alert-id="(\d+)".*?</tr>', html, re.S)
    whole = re.findall(r'(<tr class="sev-.*?</tr>)', html, re.S)
    return [(int(i), sev, row) for (sev, i), row in zip(rows, whole, strict=True)]


def external_links(html: str) -> list[str]:
    links = re.findall(r'(?:src|href|action)\s*=\s*["\']([^"\']*)', html, re.I)
    links += re.findall(r'url\(\s*["\']?([^)"\']*)', html)
    return [u for u in links if urlsplit(u).netloc not in ("", "testserver")]


def test_anonymous_is_sent_to_login_from_every_page_and_reaches_the_open_ones(
        h: Hospital) -> None:
    c = h.client()
    for path in PAGES:
        reply = c.get(fill(path, h))
        assert reply.status_code == 303, path
        assert unquote(reply.headers["location"]) == f"/login?next={fill(path, h)}"
    for path in FORMS:
        reply = submit(c, h, path, csrf="x")
        assert (reply.status_code, reply.headers["location"].split("?")[0]) == (303, "/login")
    assert c.get("/events").status_code == 401  # an EventSource cannot follow to a form
    assert {path: c.get(path).status_code for path in OPEN} == dict.fromkeys(OPEN, 200)


def test_a_feed_token_gets_403_on_every_page(h: Hospital) -> None:
    feed = h.bearer("feed")
    assert {p: feed.get(fill(p, h)).status_code for p in [*PAGES, "/events"]} == dict.fromkeys(
        [*PAGES, "/events"], 403)
    assert {p: submit(feed, h, p).status_code for p in FORMS} == dict.fromkeys(FORMS, 403)


def test_five_failures_make_the_address_wait_with_retry_after_and_the_same_answer(
        h: Hospital) -> None:
    c = h.client("10.0.0.66")
    wrong = login(c, "nurse.a", "wrong")
    unknown = login(c, "nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.text == unknown.text  # the answer does not tell who exists
    for _ in range(3):
        assert login(c, "nurse.a", "wrong").status_code == 401
    waiting = login(c, "nurse.a", PASSWORD)  # not evaluated while the address waits
    assert waiting.status_code == 429 and waiting.text == wrong.text
    assert int(waiting.headers["retry-after"]) >= 1
    assert "set-cookie" not in waiting.headers
    waiting_unknown = login(c, "nobody", PASSWORD)
    assert waiting_unknown.status_code == 429 and waiting_unknown.text == wrong.text
    assert "retry-after" in waiting_unknown.headers


def test_the_nurse_signs_in_from_her_workstation_while_the_attackers_address_waits(
        h: Hospital) -> None:
    attacker = h.client("10.0.0.66")
    for _ in range(8):
        login(attacker, "nurse.a", "wrong")
    assert login(attacker, "nurse.a", PASSWORD).status_code == 429
    nurse = h.client("10.1.4.20")
    assert login(nurse, "nurse.a", "typo").status_code == 401  # her own typo is no flood
    assert login(nurse, "nurse.a", PASSWORD).status_code == 303
    assert login(h.client("10.1.4.21"), "nurse.b", PASSWORD).status_code == 303
    assert login(attacker, "nurse.a", PASSWORD).status_code == 429  # still waits


def test_an_account_flooded_from_many_addresses_waits_everywhere(h: Hospital) -> None:
    from monitor.services.access import throttle
    for i in range(throttle.ACCOUNT_FLOOD_FAILURES):
        assert login(h.client(f"10.9.{i // 200}.{i % 200}"), "nurse.a", "wrong"
                     ).status_code == 401
    flooded = login(h.client("10.1.4.20"), "nurse.a", PASSWORD)
    assert flooded.status_code == 429 and "retry-after" in flooded.headers
    unknown = h.client("10.1.4.21")
    for i in range(throttle.ACCOUNT_FLOOD_FAILURES):
        login(h.client(f"10.8.{i // 200}.{i % 200}"), "nobody", "wrong")
    assert login(unknown, "nobody", PASSWORD).status_code == 429  # no one told apart


def test_idle_sign_in_failures_are_forgotten_by_the_hourly_housekeeping(h: Hospital) -> None:
    """Guesses under ever new usernames leave rows behind; a day without an attempt and
    the housekeeping job deletes them, so the table cannot grow without bound."""
    from datetime import UTC, datetime

    from sqlalchemy import func, select

    from monitor.scheduling.jobs import housekeeping
    from monitor.storage.tables import LoginThrottle

    def rows() -> int:
        with h.rt.uow() as uow:
            return uow.session.scalar(select(func.count()).select_from(LoginThrottle)) or 0

    for i in range(3):
        login(h.client(f"10.7.0.{i}"), f"guess{i}", "wrong")
    assert rows() == 6  # an address and a username each
    housekeeping(h.rt, datetime.now(UTC) + timedelta(hours=23))
    assert rows() == 6  # not idle long enough
    housekeeping(h.rt, datetime.now(UTC) + timedelta(hours=25))
    assert rows() == 0


def test_an_unknown_user_costs_the_same_argon2_verify(
        h: Hospital, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.services.access import auth
    calls: list[str] = []
    real = auth._dummy_verify
    monkeypatch.setattr(auth, "_dummy_verify", lambda pw: (calls.append(pw), real(pw))[1])
    assert login(h.client(), "nobody", "guess").status_code == 401
    assert calls == ["guess"]


def test_parallel_guesses_are_counted_before_they_are_evaluated(
        h: Hospital, monkeypatch: pytest.MonkeyPatch) -> None:
    """60 guesses at once, the right password at #41: exactly MAX_FAILURES are evaluated,
    the rest wait, the right one among them. The clock stands still during the run, so no
    wait runs out (on a slow machine one would, and the next attempt would be evaluated:
    that is the design, a growing wait instead of a lock anyone can trigger)."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from sqlalchemy import text

    from monitor.services.access import auth, throttle
    from monitor.web import pages

    frozen = datetime.now(UTC)

    class StoppedClock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> StoppedClock:  # type: ignore[override]
            return cast(StoppedClock, frozen)

    monkeypatch.setattr(pages, "datetime", StoppedClock)
    guesses = ["wrong"] * 60
    guesses[40] = PASSWORD
    verified: list[int] = []
    real = auth._HASHER.verify

    class Counting:
        def verify(self, stored: str, pw: str) -> bool:
            verified.append(1)
            return bool(real(stored, pw))
    monkeypatch.setattr(auth, "_HASHER", Counting())
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda pw: login(h.client(), "nurse.a", pw).status_code,
                              guesses))
    with h.rt.engine.connect() as con:
        counter = con.execute(text(
            "SELECT failures FROM login_throttles WHERE key = 'account:nurse.a'")).scalar()
    assert 303 not in codes and set(codes) == {401, 429}
    assert codes.count(401) == len(verified) == throttle.MAX_FAILURES
    assert counter == throttle.MAX_FAILURES


def test_the_session_cookie_is_httponly_and_samesite_lax(h: Hospital) -> None:
    reply = login(h.client(), "nurse.a", PASSWORD)
    assert reply.status_code == 303 and reply.headers["location"] == "/board"
    cookie = reply.headers["set-cookie"].lower()
    assert cookie.startswith("sm_session=") and "httponly" in cookie
    assert "samesite=lax" in cookie
    assert login(h.client(), "nurse.a", PASSWORD).headers["location"] == "/board"
    for outside in ("https://evil.example/", "//evil.example/", "/\\evil.example/"):
        c = h.client()
        reply = c.post("/login", data={"username": "nurse.b", "password": PASSWORD,
                                       "next": outside})
        target = reply.headers["location"]  # never off-site
        assert not urlsplit(target).netloc and not target.startswith(("//", "/\\")), target


def test_a_form_without_the_right_csrf_field_is_refused(h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    assert submit(nurse, h, "/alerts/{a}/ack").status_code == 403  # no csrf field
    assert submit(nurse, h, "/alerts/{a}/ack", csrf="forged").status_code == 403
    root = h.signed_in("root")
    assert submit(root, h, "/admin/rejects/{j}/retry").status_code == 403
    assert submit(nurse, h, "/alerts/{a}/ack", csrf=page_csrf(nurse)).status_code == 303


def test_a_nurse_acknowledges_from_the_board_without_javascript(h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    board = nurse.get("/board").text
    alert = h.alert("A1")
    form = re.search(rf'<form method="post" action="/alerts/{alert}/ack".*?</form>', board,
                     re.S)
    assert form and 'name="back" value="/board"' in form.group(0)
    reply = submit(nurse, h, "/alerts/{a}/ack", csrf=hidden_csrf(form.group(0)))
    assert reply.status_code == 303 and reply.headers["location"].startswith("/board?flash=")
    after = nurse.get(reply.headers["location"]).text
    assert f"Alert {alert}: acknowledge done." in after
    [row] = [row for i, _, row in board_rows(after) if i == alert]
    assert "acknowledged" in row and "by nurse.a" in row
    assert f'action="/alerts/{alert}/ack"' not in row  # nothing left to acknowledge


def test_forms_follow_the_roles(h: Hospital) -> None:
    nurse, dr, root = (h.signed_in(u) for u in ("nurse.a", "dr.a", "root"))
    ncsrf = page_csrf(nurse)
    assert submit(nurse, h, "/alerts/{a}/shelve", "A2", ncsrf).status_code == 303
    assert submit(nurse, h, "/alerts/{a}/resolve", csrf=ncsrf).status_code == 403
    assert submit(nurse, h, "/admin/rejects/{j}/retry", csrf=ncsrf).status_code == 403
    assert nurse.get("/admin").status_code == 403
    assert dr.get("/admin").status_code == 403
    resolved = submit(dr, h, "/alerts/{a}/resolve", csrf=page_csrf(dr))
    assert resolved.status_code == 303 and "resolve%20done" in resolved.headers["location"]
    rcsrf = page_csrf(root)
    assert submit(root, h, "/alerts/{a}/ack", "B1", rcsrf).status_code == 303
    retried = submit(root, h, "/admin/rejects/{j}/retry", csrf=rcsrf)
    assert retried.status_code == 303 and retried.headers["location"].startswith("/admin?")
    admin_page = root.get("/admin").text
    assert "retried" in admin_page and "dr.oncall.b" in admin_page


def test_a_nurse_never_sees_another_wards_pages_or_alerts(h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    assert nurse.get(fill("/patients/{p}", h, "B1")).status_code == 404
    assert nurse.get("/wards/SURG2").status_code == 404
    assert submit(nurse, h, "/alerts/{a}/ack", "B1", page_csrf(nurse)).status_code == 404
    shown = {i for i, _, _ in board_rows(nurse.get("/board").text)}
    assert h.alert("A1") in shown and h.alert("B1") not in shown
    assert "SURG2" not in nurse.get("/board").text
    on_call = h.signed_in("dr.oncall.b")
    assert on_call.get(fill("/patients/{p}", h, "B1")).status_code == 200
    assert h.alert("B1") in {i for i, _, _ in board_rows(on_call.get("/board").text)}
    h.end_shift("dr.oncall.b")
    assert on_call.get(fill("/patients/{p}", h, "B1")).status_code == 404
    assert board_rows(on_call.get("/board").text) == []


def board_cards(html: str) -> list[list[tuple[int, str, str]]]:
    """Per patient card (in the board's order), its alert rows."""
    return [board_rows(card) for card in
            re.findall(r'<tbody class="card.*?</tbody>', html, re.S)]


def test_the_board_has_one_card_per_patient_critical_patients_first(h: Hospital) -> None:
    html = h.signed_in("root").get("/board").text
    cards = board_cards(html)
    assert len(cards) == len(set(re.findall(r'data-patient-id="(\d+)"', html)))
    worst = [rows[0][1] for rows in cards]
    assert worst == sorted(worst)  # "critical" < "warning": critical patients first
    assert "critical" in worst and "warning" in worst
    for rows in cards:  # worst first within a card too
        assert [sev for _, sev, _ in rows] == sorted(sev for _, sev, _ in rows)
    warning_24h = h.alert("A2")  # the newest alert, yet after every critical patient
    order = [i for rows in cards for i, _, _ in rows]
    assert order.index(warning_24h) >= worst.count("critical")


def test_the_board_states_who_handled_an_alert_and_unshelves(h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    critical, warning = h.alert("A1"), h.alert("A2")
    csrf = page_csrf(nurse)
    nurse.post(f"/alerts/{critical}/ack", data={"csrf": csrf, "back": "/board"})
    nurse.post(f"/alerts/{warning}/shelve", data={
        "csrf": csrf, "reason": "Sample repeat pending", "hours": "1", "back": "/board"})
    html = nurse.get("/board").text
    rows = {i: row for i, _, row in board_rows(html)}
    assert "acknowledged" in rows[critical].split('"')[1]  # dimmed by its class
    assert re.search(r"Acknowledged by nurse.a<br><small>\w{3} \d+ \w{3} \d\d:\d\d",
                     rows[critical])
    assert re.search(r"Shelved until \w{3} \d+ \w{3} \d\d:\d\d<br><small>by nurse.a: "
                     r"Sample repeat pending", rows[warning])
    assert f'data-testid="unshelve-{warning}"' in rows[warning]
    # The patients waiting for someone come before those handled.
    cards = board_cards(html)
    handled = [n for n, rows in enumerate(cards)
               if all("unacknowledged" not in r for _, _, r in rows)]
    assert handled == list(range(len(cards) - len(handled), len(cards)))
    reply = nurse.post(f"/alerts/{warning}/unshelve", data={"csrf": csrf, "back": "/board"})
    assert "unshelve done" in unquote(reply.headers["location"])
    rows = {i: row for i, _, row in board_rows(nurse.get("/board").text)}
    assert "<strong>Unacknowledged</strong>" in rows[warning]
    assert ("unshelve", "alert", str(warning)) in h.audit_rows("nurse.a")


def test_the_board_names_whom_an_alert_was_escalated_to(h: Hospital) -> None:
    from monitor.services.alerting.escalate import escalate_due

    with h.rt.uow() as uow:
        alert = uow.session.get(Alert, h.alert("A1"))
        assert alert is not None and alert.next_notification_at is not None
        due = alert.next_notification_at
    escalate_due(h.rt.uow(), due + timedelta(seconds=1))
    html = h.signed_in("nurse.a").get("/board").text
    row = {i: row for i, _, row in board_rows(html)}[h.alert("A1")]
    assert re.search(r'data-testid="escalated">Escalated to dr.roster.a at \w{3} \d+', row)


def test_the_patient_page_draws_corridor_trigger_point_of_care_and_superseded(
        h: Hospital) -> None:
    html = h.signed_in("nurse.a").get(fill("/patients/{p}", h)).text
    assert re.search(r'<svg class="chart"[^>]*>', html)
    assert 'data-testid="corridor"' in html
    triggers = re.findall(r'<(\w+) [^>]*data-testid="trigger"[^>]*><title>([^<]*)', html)
    assert ("circle", "129 mmol/L") in [(tag, title[:10]) for tag, title in triggers]
    assert re.search(r'<rect class="na poc[^"]*"[^>]*><title>126 mmol/L[^<]*point-of-care',
                     html)
    assert re.search(r'<circle class="na lab superseded"[^>]*><title>124 mmol/L', html)
    assert '<line class="strike"' in html
    assert "<s>124</s>" in html and "(superseded)" in html


def test_the_patient_page_shows_an_acute_mark_with_the_hours_it_spares(h: Hospital) -> None:
    page = fill("/patients/{p}", h, "A2")
    nurse = h.signed_in("nurse.a")
    assert "Not marked acute: the correction limits apply." in nurse.get(page).text
    onset = (h.now - timedelta(hours=30)).replace(second=0, microsecond=0)
    reply = h.bearer("dr.a").post(fill("/api/v1/patients/{p}/acute", h, "A2"),
                                  json={"onset": onset.isoformat(), "reason": "post-op"})
    assert reply.status_code == 201, reply.text
    section = nurse.get(page).text.split('data-testid="acute-marks"')[1]
    item = re.sub(r"<[^>]+>", "", section.split("<li>")[1].split("</li>")[0])
    from zoneinfo import ZoneInfo

    from monitor.web.clock import when
    zone = ZoneInfo("UTC")  # the display zone of this hospital
    marked, spared = item.split(": post-op): ")
    assert re.fullmatch(rf"Onset {re.escape(when(onset, zone, h.now))} \(marked by dr\.a "
                        r"\w{3} \d+ \w{3} \d\d:\d\d", marked)
    assert spared == (
        f"no rate alert for a rise from a value collected "
        f"{when(onset - timedelta(hours=48), zone, h.now)} to "
        f"{when(onset + timedelta(hours=48), zone, h.now)}"
        "; later rises are held to the limits. "
        f"Acute until {when(onset + timedelta(hours=48), zone, h.now)}")


def test_the_census_has_one_row_per_patient_with_latest_sodium_and_a_sparkline(
        h: Hospital) -> None:
    html = h.signed_in("nurse.a").get("/wards/MED4").text
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(r'<tr data-testid="census-row".*?</tr>', body, re.S)
    latest = {}
    for row in rows:
        found = re.search(r'<small>MRN (\w+)</small></td>\s*<td>(\d+)', row)
        assert found and '<svg class="spark"' in row
        latest[found.group(1)] = int(found.group(2))
    assert latest == {"A1": 129, "A2": 136, "A3": 127}
    assert len(rows) == 3


def test_pages_reference_no_external_host(h: Hospital) -> None:
    root = h.signed_in("root")
    pages = {p: root.get(fill(p, h)) for p in [*PAGES, "/wards/SURG2", "/login"]}
    assert {p: r.status_code for p, r in pages.items()} == dict.fromkeys(pages, 200)
    assert {p: links for p, r in pages.items() if (links := external_links(r.text))} == {}
    assert external_links(root.get("/static/app.css").text) == []
    assert "http" not in root.get("/static/live.js").text


def test_page_views_and_logins_are_audited(h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    nurse.get(fill("/patients/{p}", h))
    login(h.client(), "nurse.a", "wrong")
    submit(nurse, h, "/alerts/{a}/ack", csrf=page_csrf(nurse))
    rows = h.audit_rows("nurse.a")
    user_id = next(t for a, _, t in rows if a == "login")
    assert rows >= {("login", "user", user_id), ("login-failed", "user", user_id),
                    ("view-patient", "patient", str(h.patients["A1"])),
                    ("acknowledge", "alert", str(h.alert("A1")))}


def test_every_page_and_api_answer_carries_the_browser_protections(h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    for path in [*PAGES, "/api/v1/patients", "/login", "/docs", "/fhir/metadata"]:
        headers = nurse.get(fill(path, h)).headers
        assert "default-src 'self'" in headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path
        assert headers["cache-control"] == "no-store", path
    static = nurse.get("/static/app.css").headers
    assert static["x-content-type-options"] == "nosniff" and "no-store" not in static.get(
        "cache-control", "")
    docs = nurse.get("/docs").text
    assert "<script>" not in docs and "/static/swagger-init.js" in docs
    assert nurse.get("/static/swagger-init.js").status_code == 200


def test_over_https_the_cookie_is_host_prefixed_and_secure_even_behind_an_http_proxy(
        h: Hospital, pg_migrated: str) -> None:
    from monitor.config import Settings
    from monitor.runtime import Runtime
    from monitor.web.app import create_app
    rt = Runtime(Settings(database_url=pg_migrated, broker_url="",
                          public_url="https://sodium.example"))
    try:
        http = TestClient(create_app(rt), follow_redirects=False)  # TLS ends at the proxy
        reply = login(http, "nurse.a", PASSWORD)
        cookie = reply.headers["set-cookie"]
        assert cookie.startswith("__Host-sm_session=") and "Secure" in cookie
        assert "Path=/" in cookie and "Domain" not in cookie
        token = cookie.split(";")[0].split("=", 1)[1]
        https = TestClient(create_app(rt), base_url="https://testserver", follow_redirects=False)
        assert https.get("/board", cookies={"__Host-sm_session": token}).status_code == 200
        assert https.get("/board", cookies={"sm_session": token}).status_code == 303
    finally:
        rt.engine.dispose()


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_a_browser_gets_refusal_pages_and_an_api_client_json(h: Hospital) -> None:
    """A nurse who follows a link to another ward's census, or a nurse on the admin page,
    sees a page that says what happened and how to go on (issue 14, item 7); API clients
    keep their JSON answers."""
    nurse = h.signed_in("nurse.a")
    other = nurse.get("/wards/SURG2", headers=BROWSER)
    assert other.status_code == 404 and other.headers["content-type"].startswith("text/html")
    assert "Not found" in other.text and "No such ward, or it is not on one of your wards" \
        in other.text and "signed in as <strong>nurse.a</strong>" in other.text
    assert 'href="/board"' in other.text
    admin_page = nurse.get("/admin", headers=BROWSER)
    assert admin_page.status_code == 403 and "Not allowed: a nurse may not" in admin_page.text
    missing = nurse.get("/no/such/page", headers=BROWSER)
    assert missing.status_code == 404 and "There is no such page." in missing.text
    api = nurse.get("/api/v1/patients/999999999", headers=BROWSER)
    assert api.status_code == 404 and api.headers["content-type"] == "application/json"
    assert nurse.get("/wards/SURG2").json() == {"detail": "no such ward"}  # no text/html
    assert nurse.get("/admin").status_code == 403


def test_times_read_in_the_display_zone_and_the_board_ages_the_sample(
        h: Hospital, monkeypatch: pytest.MonkeyPatch) -> None:
    """With SODIUM_DISPLAY_TIMEZONE=Europe/Berlin every page names the zone once and shows
    "Tue 1 Dec 13:40"-style local times, never ISO strings; the board's age is that of the
    sample the alert rests on, with its collection time, and the alert's own age after it
    (issue 14, item 1)."""
    from zoneinfo import ZoneInfo

    from monitor.web.clock import when

    monkeypatch.setattr(h.rt.settings, "display_timezone", "Europe/Berlin")
    nurse = h.signed_in("nurse.a")
    board = nurse.get("/board").text
    assert board.count("Times in Europe/Berlin.") == 1
    sampled = h.now - timedelta(hours=1)  # A1's last sodium, the alert's trigger
    assert f"collected {when(sampled, ZoneInfo('Europe/Berlin'), h.now)}" in board
    assert "alert raised" in board and "Sample age" in board
    patient = nurse.get(f"/patients/{h.patients['A1']}").text
    assert patient.count("Times in Europe/Berlin.") == 1
    assert when(sampled, ZoneInfo("Europe/Berlin"), h.now) in patient
    assert not re.search(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d", patient + board), \
        "no ISO time on a page"
    assert "UTC" not in patient


def test_the_shelve_form_preselects_no_reason_and_asks_words_for_a_critical(
        h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    board = nurse.get("/board").text
    critical, warning = h.alert("A1"), h.alert("A2")
    words = re.search(rf'<input name="reason" id="reason-{critical}"[^>]*>', board)
    assert words and "required" in words.group(0)
    menu = re.search(rf'<select name="reason" id="reason-{warning}"[^>]*>(.*?)</select>',
                     board, re.S)
    assert menu and "required" in board[menu.start():menu.start() + 120]
    assert re.search(r'<option value="" selected disabled>', menu.group(1))
    assert menu.group(1).count(" selected") == 1  # only the empty placeholder
    csrf = hidden_csrf(board)
    refused = nurse.post(f"/alerts/{critical}/shelve", data={
        "csrf": csrf, "reason": "Physician aware", "hours": "1"})
    assert "in your own words" in unquote(refused.headers["location"])
    done = nurse.post(f"/alerts/{critical}/shelve", data={
        "csrf": csrf, "reason": "in theatre, dr.a informed", "hours": "1"})
    assert "shelve done" in unquote(done.headers["location"])


def test_the_tab_title_counts_the_unacknowledged_alerts(h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    board = nurse.get("/board").text
    count = re.search(r'data-testid="unacknowledged-count"[^>]*>(\d+)<', board)
    waiting = re.search(r'data-testid="counts"><strong>(\d+) unacknowledged', board)
    assert count and waiting and count.group(1) == waiting.group(1)
    assert f"<title>({count.group(1)}) Alert board · sodium-monitor</title>" in board
    # Acknowledged, an alert leaves the count.
    nurse.post(f"/alerts/{h.alert('A1')}/ack", data={"csrf": hidden_csrf(board)})
    after = nurse.get("/board").text
    assert f"<title>({int(count.group(1)) - 1}) Alert board" in after


def test_an_action_on_the_patient_page_is_confirmed_there(h: Hospital) -> None:
    """Every action leads back to its page with a confirmation (issue 14, item 7)."""
    nurse = h.signed_in("nurse.a")
    page = fill("/patients/{p}", h, "A1")
    html = nurse.get(page).text
    alert = h.alert("A1")
    form = re.search(rf'<form method="post" action="/alerts/{alert}/ack".*?</form>', html,
                     re.S)
    assert form and f'name="back" value="{page}"' in form.group(0)
    reply = nurse.post(f"/alerts/{alert}/ack", data={"csrf": hidden_csrf(html),
                                                     "back": page})
    assert reply.status_code == 303 and reply.headers["location"].startswith(f"{page}?flash=")
    after = nurse.get(reply.headers["location"]).text
    assert re.search(rf'data-testid="flash">Alert {alert}: acknowledge done\.<', after)
    census = nurse.get("/wards/MED4?flash=" + "x" * 400).text
    assert 'data-testid="flash">' + "x" * 300 + "<" in census  # bounded, escaped text


def test_the_board_counts_unacknowledged_and_acknowledged_apart(h: Hospital) -> None:
    nurse = h.signed_in("nurse.a")
    counts = re.search(r'data-testid="counts"><strong>(\d+) unacknowledged</strong> · '
                       r'(\d+) acknowledged or shelved<', nurse.get("/board").text)
    assert counts
    waiting, handled = int(counts.group(1)), int(counts.group(2))
    assert waiting >= 2 and handled == 0
    reply = nurse.post(f"/alerts/{h.alert('A1')}/ack",
                       data={"csrf": page_csrf(nurse), "back": "/board"})
    after = re.search(r'(\d+) unacknowledged</strong> · (\d+) acknowledged',
                      nurse.get(reply.headers["location"]).text)
    assert after and (int(after.group(1)), int(after.group(2))) == (waiting - 1, 1)


def test_the_admin_page_lists_pseudo_feeds_as_no_sender(h: Hospital) -> None:
    from datetime import UTC, datetime

    from monitor.services.intake.hl7 import commit_hl7, refused_frame
    from monitor.services.intake.pipeline import UNAUTHENTICATED

    commit_hl7(h.rt.uow(), [refused_frame(UNAUTHENTICATED, "connection", "no feed bound",
                                          "x", datetime.now(UTC), answers=None)],
               datetime.now(UTC))
    html = h.signed_in("root").get("/admin").text
    row = re.search(rf"<tr><td>{UNAUTHENTICATED}</td>.*?</tr>", html)
    assert row and "not a sender" in row.group(0) and ">live<" not in row.group(0)
    lis = re.search(r"<tr><td>hl7:lis</td>.*?</tr>", html)
    assert lis and "<td>live</td>" in lis.group(0)


def test_a_feed_of_test_messages_only_is_not_listed_as_live(h: Hospital) -> None:
    from datetime import UTC, datetime

    from tests.hl7_builders import oru

    now = datetime.now(UTC)
    for n, value in enumerate([120, 129]):  # MSH-11 T: a training system's results
        assert h.receive(oru("T1", f"T1-{n}", now - timedelta(hours=20 - n), value,
                             processing="T"), "hl7:trainer", now) is not None
    html = h.signed_in("root").get("/admin").text
    trainer = re.search(r"<tr><td>hl7:trainer</td>.*?</tr>", html)
    assert trainer and "<td>test messages only</td>" in trainer.group(0)
    lis = re.search(r"<tr><td>hl7:lis</td>.*?</tr>", html)
    assert lis and "<td>live</td>" in lis.group(0)
