"""The admin page: users, wards, the on-call roster, notification channels, feeds and
rejects, managed with plain forms (no JavaScript). Each form is checked for its CSRF token
and the admin role, calls the service the command line calls, is audited, and comes back
to /admin with a confirmation, or the refusal in words (never a 500 or a raw 422)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.engine.policy import PolicyError
from monitor.runtime import Runtime
from monitor.services.access import accounts
from monitor.services.access.audit import audit, latest
from monitor.services.access.roles import ROLES
from monitor.services.access.scope import require
from monitor.services.intake.feeds import PERMISSIONS, bind_feed
from monitor.services.intake.rejects import reject_detail, retry_reject
from monitor.services.operations import admin
from monitor.services.operations.admin_view import admin_overview
from monitor.storage.uow import UnitOfWork
from monitor.web import clock
from monitor.web.deps import RejectId, RuntimeDep, row_id
from monitor.web.pages import FormStr, _page
from monitor.web.security import Caller, CallerDep, check_csrf

router = APIRouter(include_in_schema=False)
FormList = Annotated[list[str], Form()]
DEFAULT_SHIFT = timedelta(hours=12)  # what the roster form offers: a day or a night shift
# The audit actions of the forms below: the page lists the latest as its recent changes, so
# an admin sees who changed what without reading the audit log's JSON.
CHANGES = ("add-user", "disable-user", "enable-user", "reset-password", "change-ward",
           "add-shift", "end-shift", "add-channel", "mask-channel", "disable-channel",
           "bind-feed", "retry-reject")
SHOWN_CHANGES = 20


def _shift_id(shift_id: Annotated[int, Path()]) -> int:
    return row_id(shift_id, "shift")


def _channel_id(channel_id: Annotated[int, Path()]) -> int:
    return row_id(channel_id, "channel")


ShiftId = Annotated[int, Depends(_shift_id)]
ChannelId = Annotated[int, Depends(_channel_id)]


@dataclass(frozen=True)
class Done:
    """What a form changed: the confirmation, and the audit row's target and details."""

    message: str
    target_type: str
    target_id: object
    details: dict[str, Any] = field(default_factory=dict)


def _back(message: str) -> Response:
    return RedirectResponse(f"/admin?flash={quote(message)}", status_code=303)


def _change(rt: Runtime, c: Caller, csrf: str, action: str,
            run: Callable[[UnitOfWork, datetime], Done]) -> Response:
    """Check, run, audit, confirm: the one way every admin form changes something."""
    assert action in CHANGES, action  # else the page would not list it
    check_csrf(c, csrf)
    require(c.who, "admin")
    now = datetime.now(UTC)
    try:
        with rt.uow() as uow:
            done = run(uow, now)
    except (ValueError, LookupError, PolicyError) as error:
        return _back(f"Not saved: {error}.")
    with rt.uow() as uow:
        audit(uow, c.who.username, action, now, done.target_type, done.target_id,
              **done.details)
        uow.commit()
    return _back(done.message)


def _shown(value: object, zone: ZoneInfo, now: datetime) -> str:
    """An audit detail as the page words it: a moment in the display zone, never ISO."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return clock.when(moment, zone, now) if moment.tzinfo else value
    return str(value)


def _changes(uow: UnitOfWork, zone: ZoneInfo, now: datetime) -> list[dict[str, Any]]:
    return [{"at": e.at, "actor": e.actor, "action": e.action,
             "target": " ".join(str(x) for x in (e.target_type, e.target_id) if x),
             "details": "; ".join(f"{k}: {_shown(v, zone, now)}"
                                  for k, v in (e.details or {}).items()
                                  if v not in (None, "", []))}
            for e in latest(uow, SHOWN_CHANGES, actions=CHANGES)]


def _minutes(text: str, what: str) -> timedelta:
    if not re.fullmatch(r"\s*\d{1,6}\s*", text or ""):
        raise ValueError(f"{what} is a whole number of minutes, not {text!r}")
    return timedelta(minutes=int(text))


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, rt: RuntimeDep, c: CallerDep) -> HTMLResponse:
    require(c.who, "admin")
    now = datetime.now(UTC)
    with rt.uow() as uow:
        shown = admin_overview(uow, now)
        zone = rt.settings.display_zone
        changes = _changes(uow, zone, now)
        audit(uow, c.who.username, "view-admin", now)
        uow.commit()  # the audit row of this view
    start = now.replace(second=0, microsecond=0)
    return _page(request, rt, c.who, c.csrf, "admin.html", **shown, nav="admin",
                 changes=changes,
                 default_policy=rt.settings.policy, permissions=PERMISSIONS,
                 roles=[(r, ROLES[r]) for r in admin.PEOPLE],
                 active_names={u["username"] for u in shown["users"] if u["active"]},
                 min_password=accounts.MIN_PASSWORD_CHARS,
                 shift_from=clock.field_value(start, zone),
                 shift_to=clock.field_value(start + DEFAULT_SHIFT, zone))


@router.get("/admin/rejects/{reject_id}", response_class=HTMLResponse)
def reject_page(request: Request, rt: RuntimeDep, c: CallerDep,
                reject_id: RejectId) -> HTMLResponse:
    require(c.who, "admin")
    now = datetime.now(UTC)
    with rt.uow() as uow:
        found = reject_detail(uow, reject_id)
        if found is None:
            raise HTTPException(404, "no such reject")
        # A payload holds what a feed sent about patients: reading it is audited.
        audit(uow, c.who.username, "view-reject", now, "reject", reject_id)
        uow.commit()
    return _page(request, rt, c.who, c.csrf, "admin_reject.html", r=found, nav="admin")


@router.post("/admin/rejects/{reject_id}/retry")
def retry_form(rt: RuntimeDep, c: CallerDep, reject_id: RejectId, csrf: FormStr = "") -> Response:
    def run(_: UnitOfWork, now: datetime) -> Done:
        uow = rt.uow()
        uow.on_commit(rt.dispatcher.process)  # the row retried, if any, is the workers' now
        result = retry_reject(uow, reject_id, rt.pipeline, now)
        return Done(f"Reject {reject_id}: {result.outcome}.", "reject", reject_id)
    return _change(rt, c, csrf, "retry-reject", run)


@router.post("/admin/users")
def add_user(rt: RuntimeDep, c: CallerDep, csrf: FormStr = "", username: FormStr = "",
             role: FormStr = "", display_name: FormStr = "", password: FormStr = "",
             wards: FormList = []) -> Response:  # noqa: B006 (FastAPI copies the default)
    scoped = wards if role in ("nurse", "physician") else []  # an admin sees every ward

    def run(uow: UnitOfWork, now: datetime) -> Done:
        admin.create_user(uow, username.strip(), role, now, wards=admin.known_wards(
            uow, scoped), password=password, display_name=display_name.strip())
        return Done(f"User {username.strip()} ({role}) added.", "user", username.strip(),
                    {"role": role, "wards": scoped})
    return _change(rt, c, csrf, "add-user", run)


@router.post("/admin/users/disable")
def disable_user(rt: RuntimeDep, c: CallerDep, csrf: FormStr = "",
                 username: FormStr = "") -> Response:
    def run(uow: UnitOfWork, now: datetime) -> Done:
        ended = accounts.disable_user(uow, username, now, by=c.who.username)
        return Done(f"User {username} disabled; {ended} open session(s) and token(s) "
                    "ended.", "user", username, {"ended": ended})
    return _change(rt, c, csrf, "disable-user", run)


@router.post("/admin/users/enable")
def enable_user(rt: RuntimeDep, c: CallerDep, csrf: FormStr = "",
                username: FormStr = "") -> Response:
    def run(uow: UnitOfWork, _: datetime) -> Done:
        accounts.enable_user(uow, username)
        return Done(f"User {username} enabled.", "user", username)
    return _change(rt, c, csrf, "enable-user", run)


@router.post("/admin/users/password")
def reset_password(rt: RuntimeDep, c: CallerDep, csrf: FormStr = "", username: FormStr = "",
                   password: FormStr = "") -> Response:
    def run(uow: UnitOfWork, _: datetime) -> Done:
        ended = accounts.reset_password(uow, username, password)
        return Done(f"New password set for {username}; {ended} open session(s) ended.",
                    "user", username, {"ended": ended})
    return _change(rt, c, csrf, "reset-password", run)


@router.post("/admin/wards")
def save_ward(rt: RuntimeDep, c: CallerDep, csrf: FormStr = "", code: FormStr = "",
              name: FormStr = "", policy: FormStr = "", critical_minutes: FormStr = "",
              warning_minutes: FormStr = "", repeat_minutes: FormStr = "",
              fallback: FormStr = "") -> Response:
    def run(uow: UnitOfWork, now: datetime) -> Done:
        if policy and policy not in admin.policy_choices(uow):
            raise ValueError(f"{policy!r} is not an installed policy")
        ward = admin.upsert_ward(
            uow, code.strip(), now, name=name.strip() or None, policy=policy,
            escalate_critical_after=_minutes(critical_minutes, "critical escalation"),
            escalate_warning_after=_minutes(warning_minutes, "warning escalation"),
            repeat_every=_minutes(repeat_minutes, "the repeat"), fallback=fallback)
        return Done(f"Ward {ward.code} saved: policy {ward.policy or rt.settings.policy}, "
                    f"critical after {ward.escalate_critical_after_s // 60} min, warning "
                    f"after {ward.escalate_warning_after_s // 60} min, repeat every "
                    f"{ward.repeat_every_s // 60} min.", "ward", ward.code,
                    {"policy": ward.policy, "fallback": ward.fallback_contact,
                     "critical_s": ward.escalate_critical_after_s,
                     "warning_s": ward.escalate_warning_after_s,
                     "repeat_s": ward.repeat_every_s})
    return _change(rt, c, csrf, "change-ward", run)


@router.post("/admin/roster")
def add_shift(rt: RuntimeDep, c: CallerDep, csrf: FormStr = "", ward: FormStr = "",
              username: FormStr = "", starts: FormStr = "", ends: FormStr = "") -> Response:
    zone = rt.settings.display_zone

    def run(uow: UnitOfWork, now: datetime) -> Done:
        begin, end = clock.from_field(starts, zone), clock.from_field(ends, zone)
        admin.known_wards(uow, [ward])
        shift = admin.add_shift(uow, ward, username, begin, end, now)
        return Done(f"{username} on call for {ward} from {clock.when(begin, zone, now)} to "
                    f"{clock.when(end, zone, now)}.", "shift", shift.id,
                    {"ward": ward, "user": username, "from": begin.isoformat(),
                     "to": end.isoformat()})
    return _change(rt, c, csrf, "add-shift", run)


@router.post("/admin/roster/{shift_id}/end")
def end_shift(rt: RuntimeDep, c: CallerDep, shift_id: ShiftId, csrf: FormStr = "") -> Response:
    def run(uow: UnitOfWork, now: datetime) -> Done:
        done = admin.end_shift(uow, shift_id, now)
        return Done(f"Shift {shift_id} {done}.", "shift", shift_id, {"done": done})
    return _change(rt, c, csrf, "end-shift", run)


@router.post("/admin/channels")
def add_channel(rt: RuntimeDep, c: CallerDep, csrf: FormStr = "", username: FormStr = "",
                webhook: FormStr = "", secret: FormStr = "", email: FormStr = "",
                show_mrn: FormStr = "") -> Response:
    def run(uow: UnitOfWork, _: datetime) -> Done:
        channel = admin.add_channel(uow, username, webhook=webhook.strip() or None,
                                    secret=secret or None, email=email.strip() or None,
                                    show_mrn=bool(show_mrn))
        # The audit row names the user and the kind; never the secret.
        return Done(f"{channel.kind.capitalize()} channel {channel.id} added for {username}.",
                    "channel", channel.id, {"user": username, "kind": channel.kind})
    return _change(rt, c, csrf, "add-channel", run)


@router.post("/admin/channels/{channel_id}/mrn")
def mask_channel(rt: RuntimeDep, c: CallerDep, channel_id: ChannelId, csrf: FormStr = "",
                 show_mrn: FormStr = "") -> Response:
    def run(uow: UnitOfWork, _: datetime) -> Done:
        channel = admin.mask_channel(uow, channel_id, bool(show_mrn))
        shown = "unmasked" if channel.show_mrn else "masked"
        return Done(f"Channel {channel.id} ({channel.kind}): MRN {shown} in its messages.",
                    "channel", channel.id, {"show_mrn": channel.show_mrn})
    return _change(rt, c, csrf, "mask-channel", run)


@router.post("/admin/channels/{channel_id}/disable")
def disable_channel(rt: RuntimeDep, c: CallerDep, channel_id: ChannelId,
                    csrf: FormStr = "") -> Response:
    def run(uow: UnitOfWork, _: datetime) -> Done:
        channel = admin.disable_channel(uow, channel_id)
        return Done(f"Channel {channel.id} ({channel.kind}) disabled.", "channel", channel.id)
    return _change(rt, c, csrf, "disable-channel", run)


@router.post("/admin/feeds")
def bind_feed_form(rt: RuntimeDep, c: CallerDep, csrf: FormStr = "", name: FormStr = "",
                   cert_cn: FormStr = "", allow_ips: FormStr = "",
                   allow: FormList = []) -> Response:  # noqa: B006 (FastAPI copies it)
    networks = allow_ips.replace(",", " ").split()

    def run(_: UnitOfWork, now: datetime) -> Done:
        b = bind_feed(rt.uow(), name.strip(), now, cert_cn=cert_cn.strip() or None,
                      allow_ips=networks, allow=set(allow))
        return Done(f"Feed {b.name} bound: certificate CN {b.cert_cn or 'none'}, networks "
                    f"{' '.join(b.allow_ips) or 'none'}, may send "
                    f"{', '.join(sorted(b.permissions))}.", "feed", b.name,
                    {"cert_cn": b.cert_cn, "allow_ips": list(b.allow_ips),
                     "permissions": sorted(b.permissions)})
    return _change(rt, c, csrf, "bind-feed", run)
