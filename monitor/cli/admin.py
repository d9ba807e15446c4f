"""Administration from the command line: wards, users, channels, roster, alert actions,
compliance figures. The admin pages call the same services."""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

import typer

from monitor.cli.common import group, settings_or_exit

if TYPE_CHECKING:
    from monitor.runtime import Runtime
    from monitor.storage.tables import Alert

wards_app = group("Wards and their escalation settings.")
users_app = group("Users (nurse, physician, admin).")
channels_app = group("Notification channels per user.")
roster_app = group("The on-call roster.")
report_app = group("Reports.")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> timedelta:
    """10m, 2h, 90s, 1d."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text or "")
    if not match:
        raise typer.BadParameter(f"{text!r} is not a duration such as 10m, 2h or 90s")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _moment(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _fail(error: Exception) -> typer.Exit:
    typer.echo(f"sodium-monitor: {error}", err=True)
    return typer.Exit(1)


@wards_app.command("add")
def wards_add(code: str, name: str = typer.Option(None, "--name"),
              escalate_critical_after: str = typer.Option(None, help="e.g. 10m"),
              escalate_warning_after: str = typer.Option(None, help="e.g. 30m"),
              repeat_every: str = typer.Option(None, help="e.g. 10m"),
              fallback: str = typer.Option(None, help="username reached when nobody is on call"),
              policy: str = typer.Option(None, help="policy profile of this ward")) -> None:
    """Create a ward, or update an existing one's settings."""
    from monitor.engine.policy import PolicyError
    from monitor.runtime import Runtime
    from monitor.services.operations import admin

    rt = Runtime(settings_or_exit())
    with rt.uow() as uow:
        try:
            ward = admin.upsert_ward(
                uow, code, datetime.now(UTC), name=name,
                escalate_critical_after=duration(escalate_critical_after)
                if escalate_critical_after else None,
                escalate_warning_after=duration(escalate_warning_after)
                if escalate_warning_after else None,
                repeat_every=duration(repeat_every) if repeat_every else None,
                fallback=fallback, policy=policy)
        except PolicyError as error:
            raise _fail(error) from None
        typer.echo(f"ward {ward.code}: critical escalates after {ward.escalate_critical_after_s}"
                   f" s, warning after {ward.escalate_warning_after_s} s, repeats every "
                   f"{ward.repeat_every_s} s")


@users_app.command("create")
def users_create(username: str, role: str = typer.Option(..., help="nurse|physician|admin"),
                 ward: list[str] = typer.Option(None, "--ward", help="repeat for several"),
                 password_stdin: bool = typer.Option(False, "--password-stdin")) -> None:
    """Create a user; the password (optional) is read from standard input."""
    from monitor.runtime import Runtime
    from monitor.services.operations import admin

    rt = Runtime(settings_or_exit())
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with rt.uow() as uow:
        try:
            admin.create_user(uow, username, role, datetime.now(UTC), wards=ward or [],
                              password=password)
        except ValueError as error:
            raise _fail(error) from None
    typer.echo(f"user {username} ({role}) created")


@channels_app.command("add")
def channels_add(username: str, webhook: str = typer.Option(None), secret: str = typer.Option(None),
                 email: str = typer.Option(None),
                 show_mrn: bool = typer.Option(False, help="unmasked MRN in messages")) -> None:
    """Add a webhook (signed with the secret) or an email channel to a user."""
    from monitor.runtime import Runtime
    from monitor.services.operations import admin

    rt = Runtime(settings_or_exit())
    with rt.uow() as uow:
        try:
            channel = admin.add_channel(uow, username, webhook=webhook, secret=secret,
                                        email=email, show_mrn=show_mrn)
        except (ValueError, LookupError) as error:
            raise _fail(error) from None
    typer.echo(f"channel {channel.id} ({channel.kind}) added for {username}")


@roster_app.command("add")
def roster_add(ward: str = typer.Option(...), user: str = typer.Option(...),
               starts: str = typer.Option(..., "--from"), ends: str = typer.Option(..., "--to")
               ) -> None:
    """Put a physician on call for a ward from one time to another."""
    from monitor.runtime import Runtime
    from monitor.services.operations import admin

    rt = Runtime(settings_or_exit())
    with rt.uow() as uow:
        try:
            admin.add_shift(uow, ward, user, _moment(starts), _moment(ends), datetime.now(UTC))
        except (ValueError, LookupError) as error:
            raise _fail(error) from None
    typer.echo(f"{user} on call for {ward} from {starts} to {ends}")


def alerts_ack(alert_id: int, user: str = typer.Option(...),
               note: str = typer.Option(None)) -> None:
    """Acknowledge an alert: escalation and repeats stop."""
    from monitor.services.alerting import actions

    _alert_action(lambda rt: actions.acknowledge(rt.uow(), alert_id, user, note,
                                                       datetime.now(UTC)), "acknowledged")


def alerts_shelve(alert_id: int, user: str = typer.Option(...),
                  reason: str = typer.Option(...),
                  for_: str = typer.Option(..., "--for", help="at most 12h")) -> None:
    """Shelve an alert for a while, with a reason."""
    from monitor.services.alerting import actions

    _alert_action(lambda rt: actions.shelve(rt.uow(), alert_id, user, reason,
                                                  duration(for_), datetime.now(UTC)), "shelved")


def alerts_resolve(alert_id: int, user: str = typer.Option(...),
                   note: str = typer.Option(...)) -> None:
    """Resolve an alert (physicians), with a note."""
    from monitor.services.alerting import actions

    _alert_action(lambda rt: actions.resolve(rt.uow(), alert_id, user, note,
                                                   datetime.now(UTC)), "resolved")


def _alert_action(act: Callable[[Runtime], Alert], done: str) -> None:
    from monitor.alerts.lifecycle import TransitionError
    from monitor.runtime import Runtime
    from monitor.services.alerting import actions

    rt = Runtime(settings_or_exit())
    try:
        alert = act(rt)
    except (LookupError, TransitionError, actions.AlertChanged) as error:
        raise _fail(error) from None
    typer.echo(f"alert {alert.id} {done} ({alert.lifecycle})")


@report_app.command("compliance")
def report_compliance(start: str = typer.Option(..., "--from", help="YYYY-MM-DD"),
                      end: str = typer.Option(..., "--to", help="YYYY-MM-DD (inclusive)"),
                      ward: str = typer.Option(None), fmt: str = typer.Option(
                          "csv", "--format", help="csv|json")) -> None:
    """Per ward: counts, median and p90 of collected->raised, raised->first notification,
    first notification->acknowledged; escalated and never acknowledged."""
    from monitor.runtime import Runtime
    from monitor.services.alerting.compliance import INTERVALS, compliance

    rt = Runtime(settings_or_exit())
    try:
        begin = datetime.combine(date.fromisoformat(start), time(), UTC)
        finish = datetime.combine(date.fromisoformat(end), time(), UTC) + timedelta(days=1)
    except ValueError:
        raise typer.BadParameter("--from and --to are dates, YYYY-MM-DD") from None
    with rt.uow() as uow:
        rows = compliance(uow, begin, finish, ward)
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    out = csv.writer(sys.stdout)
    head = ["ward", "alerts", "critical", "warning", "escalated", "never_acknowledged"]
    out.writerow(head + [f"{i}_{m}" for i in INTERVALS for m in ("median_min", "p90_min")])
    for r in rows:
        out.writerow([r.get(h, 0) for h in head] +
                     [r[i][m] for i in INTERVALS for m in ("median_min", "p90_min")])
