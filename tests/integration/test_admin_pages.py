"""The admin page's forms on PostgreSQL through the real app: CSRF and the admin role on
every one, an audit row per change, a confirmation or the refusal in words, and what each
change does (a disabled user's sessions and tokens end at once, a shift entered in the
display zone, a reject's payload readable and escaped).

The hospital (two wards, their people, one reject) is tests/integration/hospital.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, select

from monitor.services.intake.inbox import reject_payload
from monitor.storage.tables import (
    ApiToken,
    AuditEntry,
    Feed,
    NotificationChannel,
    OnCallShift,
    User,
    Ward,
    WardMembership,
    WebSession,
)
from tests.integration.hospital import PASSWORD, WARD_A, Hospital, build, hidden_csrf

NEW_PASSWORD = "a long new passphrase"
FORMS: dict[str, dict[str, Any]] = {  # every admin form, with valid fields
    "/admin/users": {"username": "nurse.new", "role": "nurse", "password": NEW_PASSWORD,
                     "wards": [WARD_A]},
    "/admin/users/disable": {"username": "nurse.b"},
    "/admin/users/enable": {"username": "nurse.b"},
    "/admin/users/password": {"username": "nurse.b", "password": NEW_PASSWORD},
    "/admin/wards": {"code": WARD_A, "policy": "eu-2014", "critical_minutes": "5",
                     "warning_minutes": "20", "repeat_minutes": "7", "fallback": "root"},
    "/admin/roster": {"ward": WARD_A, "username": "dr.a", "starts": "2030-01-01T08:00",
                      "ends": "2030-01-01T20:00"},
    "/admin/roster/1/end": {},
    "/admin/channels": {"username": "nurse.a", "email": "nurse.a@hospital.example"},
    "/admin/channels/1/mrn": {"show_mrn": "yes"},
    "/admin/channels/1/disable": {},
    "/admin/feeds": {"name": "LAB2", "allow_ips": "10.9.0.0/24"},
    "/admin/rejects/{j}/retry": {},
}


@pytest.fixture
def h(pg_engine: Engine, pg_migrated: str) -> Iterator[Hospital]:
    made = build(pg_migrated)
    yield made
    made.close()


def post(c: TestClient, h: Hospital, path: str, csrf: str | None = None,
         **fields: Any) -> Response:
    """A plain HTML form POST, as a browser without JavaScript sends it."""
    data = {**FORMS.get(path, {}), **fields}
    if csrf is not None:
        data["csrf"] = csrf
    reply: Response = c.post(path.format(j=h.reject_id()), data=data)
    return reply


def admin_csrf(c: TestClient) -> str:
    return hidden_csrf(c.get("/admin").text)


def flash(reply: Response) -> str:
    """The confirmation the form's redirect carries to /admin."""
    assert reply.status_code == 303, reply.text
    location = reply.headers["location"]
    assert location.startswith("/admin?flash="), location
    return unquote(location.removeprefix("/admin?flash="))


def audited(h: Hospital, action: str) -> list[AuditEntry]:
    with h.rt.uow() as uow:
        return list(uow.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                        .order_by(AuditEntry.id)))


def one(h: Hospital, table: Any, *where: Any) -> Any:
    with h.rt.uow() as uow:
        return uow.session.scalars(select(table).where(*where)).one()


def test_every_admin_form_needs_the_csrf_token_and_the_admin_role(h: Hospital) -> None:
    root = h.signed_in("root")
    refused = {path: post(root, h, path).status_code for path in FORMS}
    assert refused == dict.fromkeys(FORMS, 403)
    assert {path: post(root, h, path, csrf="forged").status_code for path in FORMS} == \
        dict.fromkeys(FORMS, 403)
    for username in ("nurse.a", "dr.a"):
        c = h.signed_in(username)
        csrf = hidden_csrf(c.get("/board").text)
        assert {path: post(c, h, path, csrf).status_code for path in FORMS} == \
            dict.fromkeys(FORMS, 403), username
    anonymous = {path: post(h.client(), h, path, "x").headers["location"].split("?")[0]
                 for path in FORMS}
    assert anonymous == dict.fromkeys(FORMS, "/login")
    with h.rt.uow() as uow:  # nothing changed
        assert uow.session.scalar(select(User).where(User.username == "nurse.new")) is None
        assert uow.session.scalars(select(Ward.policy)).all() == [None, None]


def test_an_admin_adds_a_user_who_then_signs_in_on_her_ward(h: Hospital) -> None:
    root = h.signed_in("root")
    csrf = admin_csrf(root)
    said = flash(post(root, h, "/admin/users", csrf, display_name="Nurse New"))
    assert said == "User nurse.new (nurse) added."
    user = one(h, User, User.username == "nurse.new")
    assert (user.role, user.display_name, user.active) == ("nurse", "Nurse New", True)
    assert user.password_hash.startswith("$argon2") and NEW_PASSWORD not in user.password_hash
    assert PasswordHasher().verify(user.password_hash, NEW_PASSWORD)
    ward = one(h, Ward, Ward.code == WARD_A)
    assert one(h, WardMembership, WardMembership.user_id == user.id).ward_id == ward.id
    [row] = audited(h, "add-user")
    assert (row.actor, row.target_type, row.target_id) == ("root", "user", "nurse.new")
    assert row.details == {"role": "nurse", "wards": [WARD_A]}  # never the password
    page = root.get("/admin").text
    assert re.search(r'<tr data-user="nurse.new".*?<td>MED4</td>', page, re.S)

    nurse = h.client()
    assert nurse.post("/login", data={"username": "nurse.new", "password": NEW_PASSWORD}
                      ).status_code == 303
    assert nurse.get("/wards/MED4").status_code == 200
    assert nurse.get("/wards/SURG2").status_code == 404


@pytest.mark.parametrize(("fields", "words"), [
    ({"password": "short"}, "Not saved: a password has at least 8 characters."),
    ({"password": "nurse.new"}, "Not saved: the password may not be the username."),
    ({"password": "Nurse.New1", "username": "nurse.new1"}, "may not be the username"),
    ({"username": "nurse.a"}, "Not saved: user 'nurse.a' exists."),
    ({"role": "feed"}, "role must be one of nurse, physician, admin"),
    ({"username": "", "role": "", "password": "", "wards": []}, "Not saved: role must be"),
    ({"username": "   "}, "a username is not empty"),
    ({"username": "x" * 101}, "the username is 101 characters; at most 100 are stored"),
    ({"wards": ["NOWARD"]}, "Not saved: no ward 'NOWARD'."),
])
def test_a_bad_new_user_comes_back_as_words_and_adds_nobody(
        h: Hospital, fields: dict[str, Any], words: str) -> None:
    root = h.signed_in("root")
    assert words in flash(post(root, h, "/admin/users", admin_csrf(root), **fields))
    with h.rt.uow() as uow:
        assert uow.session.scalar(select(User).where(User.username.like("nurse.new%"))) \
            is None
        assert uow.session.scalar(select(Ward).where(Ward.code == "NOWARD")) is None
    assert audited(h, "add-user") == []


def test_a_form_with_no_fields_at_all_is_a_flash_not_a_422(h: Hospital) -> None:
    root = h.signed_in("root")
    csrf = admin_csrf(root)
    for path in ("/admin/users", "/admin/users/disable", "/admin/users/password",
                 "/admin/wards", "/admin/roster", "/admin/channels", "/admin/feeds"):
        reply = root.post(path, data={"csrf": csrf})
        assert flash(reply).startswith("Not saved: "), path


def test_disabling_a_user_ends_her_sessions_and_tokens_and_refuses_her_sign_in(
        h: Hospital) -> None:
    nurse = h.signed_in("nurse.b")
    assert nurse.get("/board").status_code == 200
    token = h.bearer("nurse.b")
    assert token.get("/api/v1/alerts").status_code == 200
    root = h.signed_in("root")
    said = flash(post(root, h, "/admin/users/disable", admin_csrf(root)))
    assert said == "User nurse.b disabled; 2 open session(s) and token(s) ended."
    assert nurse.get("/board").headers["location"].startswith("/login")
    assert token.get("/api/v1/alerts").status_code == 401
    assert h.client().post("/login", data={"username": "nurse.b", "password": PASSWORD}
                           ).status_code == 401
    user = one(h, User, User.username == "nurse.b")
    with h.rt.uow() as uow:
        assert uow.session.scalars(select(WebSession).where(
            WebSession.user_id == user.id)).all() == []
        assert uow.session.scalar(select(ApiToken.revoked_at).where(
            ApiToken.user_id == user.id)) is not None
    assert 'data-user="nurse.b" class="inactive"' in root.get("/admin").text
    [row] = audited(h, "disable-user")
    assert (row.target_id, row.details) == ("nurse.b", {"ended": 2})

    assert flash(post(root, h, "/admin/users/enable", admin_csrf(root))) == \
        "User nurse.b enabled."
    assert h.client().post("/login", data={"username": "nurse.b", "password": PASSWORD}
                           ).status_code == 303
    assert token.get("/api/v1/alerts").status_code == 401  # a revoked token stays revoked


def test_an_admin_cannot_disable_herself(h: Hospital) -> None:
    root = h.signed_in("root")
    said = flash(post(root, h, "/admin/users/disable", admin_csrf(root), username="root"))
    assert said == "Not saved: you cannot disable your own account."
    assert one(h, User, User.username == "root").active
    ghost = post(root, h, "/admin/users/disable", admin_csrf(root), username="ghost")
    assert flash(ghost) == "Not saved: no user 'ghost'."


def test_a_new_password_replaces_the_old_and_ends_the_open_sessions(h: Hospital) -> None:
    nurse = h.signed_in("nurse.b")
    root = h.signed_in("root")
    short = post(root, h, "/admin/users/password", admin_csrf(root), password="2short")
    assert flash(short) == "Not saved: a password has at least 8 characters."
    assert nurse.get("/board").status_code == 200  # a refused change ends nothing
    said = flash(post(root, h, "/admin/users/password", admin_csrf(root)))
    assert said == "New password set for nurse.b; 1 open session(s) ended."
    assert nurse.get("/board").status_code == 303
    assert h.client().post("/login", data={"username": "nurse.b", "password": PASSWORD}
                           ).status_code == 401
    assert h.client().post("/login", data={"username": "nurse.b", "password": NEW_PASSWORD}
                           ).status_code == 303
    [row] = audited(h, "reset-password")
    assert NEW_PASSWORD not in str(row.details)


def test_a_ward_gets_a_policy_and_escalation_timings_in_minutes(h: Hospital) -> None:
    root = h.signed_in("root")
    said = flash(post(root, h, "/admin/wards", admin_csrf(root)))
    assert said == ("Ward MED4 saved: policy eu-2014, critical after 5 min, warning after "
                    "20 min, repeat every 7 min.")
    ward = one(h, Ward, Ward.code == WARD_A)
    assert (ward.policy, ward.escalate_critical_after_s, ward.escalate_warning_after_s,
            ward.repeat_every_s, ward.fallback_contact) == ("eu-2014", 300, 1200, 420, "root")
    row = re.search(r'<tr data-ward="MED4">.*?</tr>', root.get("/admin").text, re.S)
    assert row and "<td>eu-2014</td>" in row.group(0) and "5 / 20 min" in row.group(0)
    [entry] = audited(h, "change-ward")
    assert entry.target_id == WARD_A and entry.details["policy"] == "eu-2014"
    # Back to the service-wide policy, no fallback.
    flash(post(root, h, "/admin/wards", admin_csrf(root), policy="", fallback=""))
    ward = one(h, Ward, Ward.code == WARD_A)
    assert (ward.policy, ward.fallback_contact) == (None, None)


@pytest.mark.parametrize(("fields", "words"), [
    ({"critical_minutes": "soon"}, "critical escalation is a whole number of minutes"),
    ({"repeat_minutes": "0"}, "the repeat must be more than 0 and at most 24 h"),
    ({"warning_minutes": "99999"}, "warning escalation must be more than 0"),
    ({"policy": "/etc/passwd.toml"}, "'/etc/passwd.toml' is not an installed policy"),
    ({"code": ""}, "a ward needs a code"),
    ({"code": "W" * 65}, "the ward code is 65 characters; at most 64 are stored"),
])
def test_a_bad_ward_change_comes_back_as_words_and_changes_nothing(
        h: Hospital, fields: dict[str, Any], words: str) -> None:
    root = h.signed_in("root")
    assert words in flash(post(root, h, "/admin/wards", admin_csrf(root), **fields))
    ward = one(h, Ward, Ward.code == WARD_A)
    assert (ward.policy, ward.escalate_critical_after_s) == (None, 600)
    with h.rt.uow() as uow:
        assert len(uow.session.scalars(select(Ward)).all()) == 2


def test_a_shift_is_entered_and_shown_in_the_display_zone(
        h: Hospital, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h.rt.settings, "display_timezone", "Europe/Berlin")
    root = h.signed_in("root")
    page = root.get("/admin").text
    assert 'type="datetime-local" name="starts"' in page and "From (Europe/Berlin)" in page
    said = flash(post(root, h, "/admin/roster", admin_csrf(root)))
    assert said == "dr.a on call for MED4 from Tue 1 Jan 2030 08:00 to Tue 1 Jan 2030 20:00."
    berlin = ZoneInfo("Europe/Berlin")
    shift = one(h, OnCallShift, OnCallShift.starts_at > h.now + timedelta(days=365))
    assert shift.starts_at == datetime(2030, 1, 1, 7, 0, tzinfo=UTC)  # 08:00 CET
    assert shift.starts_at.astimezone(berlin).hour == 8
    row = re.search(rf'<tr data-shift="{shift.id}">.*?</tr>', root.get("/admin").text, re.S)
    assert row and "Tue 1 Jan 2030 08:00" in row.group(0) and "Remove" in row.group(0)
    [entry] = audited(h, "add-shift")
    assert entry.details["from"] == "2030-01-01T08:00:00+01:00"
    for fields, words in [({"ends": "2030-01-01T07:00"}, "the shift must end after it starts"),
                          ({"starts": "tomorrow"}, "'tomorrow' is not a date and time"),
                          ({"username": "nurse.a"}, "the on-call roster is for physicians"),
                          ({"ward": "NOWARD"}, "no ward 'NOWARD'")]:
        assert words in flash(post(root, h, "/admin/roster", admin_csrf(root), **fields))


def test_a_current_shift_ends_now_and_a_future_one_is_removed(h: Hospital) -> None:
    root = h.signed_in("root")
    with h.rt.uow() as uow:
        shifts = {u: s for s, u in uow.session.execute(
            select(OnCallShift.id, User.username).join(User, User.id == OnCallShift.user_id))}
    oncall = h.signed_in("dr.oncall.b")
    assert oncall.get("/wards/SURG2").status_code == 200
    said = flash(root.post(f"/admin/roster/{shifts['dr.oncall.b']}/end",
                           data={"csrf": admin_csrf(root)}))
    assert said == f"Shift {shifts['dr.oncall.b']} ended."
    assert oncall.get("/wards/SURG2").status_code == 404  # her on-call ward, no longer
    assert one(h, OnCallShift, OnCallShift.id == shifts["dr.oncall.b"]).ends_at <= \
        datetime.now(UTC)
    said = flash(root.post(f"/admin/roster/{shifts['dr.later.b']}/end",
                           data={"csrf": admin_csrf(root)}))
    assert said == f"Shift {shifts['dr.later.b']} removed."
    with h.rt.uow() as uow:
        assert uow.session.get(OnCallShift, shifts["dr.later.b"]) is None
    again = root.post(f"/admin/roster/{shifts['dr.oncall.b']}/end",
                      data={"csrf": admin_csrf(root)})
    assert flash(again) == "Not saved: that shift is over already."
    assert flash(root.post("/admin/roster/999999/end", data={"csrf": admin_csrf(root)})) \
        == "Not saved: no shift 999999."
    assert [e.details["done"] for e in audited(h, "end-shift")] == ["ended", "removed"]


def test_channels_are_added_and_disabled_and_the_secret_is_never_shown(h: Hospital) -> None:
    root = h.signed_in("root")
    csrf = admin_csrf(root)
    for fields, words in [
            ({"email": "", "webhook": "https://pager.example/h"}, "a webhook needs a secret"),
            ({"email": "", "webhook": "ftp://x", "secret": "s3cret-value"}, "not an http"),
            ({"email": "nobody"}, "'nobody' is not an e-mail address"),
            ({"email": ""}, "give a webhook URL (with its secret) or an e-mail address"),
            ({"username": "ghost"}, "no user 'ghost'")]:
        assert words in flash(post(root, h, "/admin/channels", csrf, **fields))
    assert flash(post(root, h, "/admin/channels", csrf)) == \
        "Email channel 1 added for nurse.a."
    hooked = flash(post(root, h, "/admin/channels", csrf, email="",
                        webhook="https://pager.example/h", secret="s3cret-value"))
    assert hooked == "Webhook channel 2 added for nurse.a."
    page = root.get("/admin").text
    assert "nurse.a@hospital.example" in page and "https://pager.example/h" in page
    assert "s3cret-value" not in page
    assert flash(post(root, h, "/admin/channels/1/mrn", csrf)) == \
        "Channel 1 (email): MRN unmasked in its messages."
    assert one(h, NotificationChannel, NotificationChannel.id == 1).show_mrn
    assert flash(post(root, h, "/admin/channels/1/mrn", csrf, show_mrn="")) == \
        "Channel 1 (email): MRN masked in its messages."
    assert not one(h, NotificationChannel, NotificationChannel.id == 1).show_mrn
    assert [e.details for e in audited(h, "mask-channel")] == [
        {"show_mrn": True}, {"show_mrn": False}]
    assert "no channel 99" in flash(post(root, h, "/admin/channels/99/mrn", csrf))
    assert flash(post(root, h, "/admin/channels/1/disable", csrf)) == \
        "Channel 1 (email) disabled."
    assert not one(h, NotificationChannel, NotificationChannel.id == 1).active
    assert [e.details for e in audited(h, "add-channel")] == [
        {"user": "nurse.a", "kind": "email"}, {"user": "nurse.a", "kind": "webhook"}]
    assert len(audited(h, "disable-channel")) == 1


def test_a_feed_is_bound_from_the_page_and_listed_with_its_binding(h: Hospital) -> None:
    root = h.signed_in("root")
    csrf = admin_csrf(root)
    said = flash(post(root, h, "/admin/feeds", csrf, cert_cn="lab2.hospital.example",
                      allow_ips="10.9.0.0/24, 10.9.1.5/32", allow=["removals", "adt"]))
    assert said == ("Feed hl7:LAB2 bound: certificate CN lab2.hospital.example, networks "
                    "10.9.0.0/24 10.9.1.5/32, may send adt, removals, results.")
    feed = one(h, Feed, Feed.name == "hl7:LAB2")
    assert (feed.cert_cn, feed.allow_ips, feed.permissions) == (
        "lab2.hospital.example", ["10.9.0.0/24", "10.9.1.5/32"], "results,removals,adt")
    row = re.search(r"<tr><td>hl7:LAB2</td>.*?</tr>", root.get("/admin").text)
    assert row and "lab2.hospital.example" in row.group(0) and "never" in row.group(0)
    [entry] = audited(h, "bind-feed")
    assert entry.details["permissions"] == ["adt", "removals", "results"]
    for fields, words in [
            ({"allow_ips": "10.9.0.0/33"}, "does not appear to be an IPv4 or IPv6 network"),
            ({"allow_ips": ""}, "a feed needs --cert-cn or at least one --allow-ip"),
            ({"allow": ["everything"]}, "unknown permission everything"),
            ({"name": "unauthenticated"}, "cannot name a feed"),
            ({"name": "LAB3", "cert_cn": "lab2.hospital.example"},
             "certificate CN 'lab2.hospital.example' is bound to hl7:LAB2 already")]:
        assert words in flash(post(root, h, "/admin/feeds", csrf, **fields))


def test_a_rejects_payload_is_shown_escaped_one_segment_a_line_and_audited(
        h: Hospital) -> None:
    raw = "MSH|^~\\&|LIS|LAB\rPID|1||X<script>alert(1)</script>\rOBX|1|NM|2951-2"
    with h.rt.uow() as uow:
        reject_payload(uow, "hl7:lis", "hl7", "message", "test reason", raw, h.now)
    root = h.signed_in("root")
    admin_page = root.get("/admin").text
    links = re.findall(r'<a href="(/admin/rejects/\d+)">View payload</a>', admin_page)
    assert len(links) == 2
    page = root.get(links[0])  # the newest first
    assert page.status_code == 200
    pre = re.search(r'<pre class="payload" data-testid="payload">(.*?)</pre>', page.text,
                    re.S)
    assert pre and pre.group(1).split("\n") == [
        "MSH|^~\\&amp;|LIS|LAB", "PID|1||X&lt;script&gt;alert(1)&lt;/script&gt;",
        "OBX|1|NM|2951-2"]
    assert "<script>alert" not in page.text and "test reason" in page.text
    reject_id = int(links[0].rsplit("/", 1)[1])
    assert ("view-reject", "reject", str(reject_id)) in h.audit_rows("root")
    assert h.signed_in("nurse.a").get(links[0]).status_code == 403
    assert root.get("/admin/rejects/999999").status_code == 404
    assert root.get("/admin/rejects/0").status_code == 404
