"""Alerting administration and actions in embedded mode (SQLite, no broker): the admin
commands (wards, users, channels, roster), the alert commands (shelve, resolve, list) and
the overdue check, through the same functions the scheduler and the CLI use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import Settings
from monitor.runtime import Runtime
from monitor.runtime.drain import run_inbox
from monitor.scheduling.jobs import alerting
from monitor.services.intake.hl7 import receive_hl7
from monitor.services.operations import admin
from monitor.storage.migrate import upgrade
from monitor.storage.tables import (
    Alert,
    AlertEvent,
    Delivery,
    NotificationChannel,
    OnCallShift,
    User,
    Ward,
    WardMembership,
)
from tests.hl7_builders import oru

CLI = str(Path(sys.executable).parent / "sodium-monitor")
T = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path) -> str:
    database = f"sqlite:///{tmp_path / 'embedded.db'}"
    upgrade(database)
    return database


@pytest.fixture
def rt(url: str) -> Runtime:
    runtime = Runtime(Settings(database_url=url, broker_url=""))
    assert runtime.settings.embedded
    return runtime


def cli(url: str, *args: str, stdin: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=stdin,
                         env={"SODIUM_DATABASE_URL": url, "SODIUM_BROKER_URL": ""})


def deliver(rt: Runtime, message: str, now: datetime) -> None:
    reply = receive_hl7(rt.uow(), message, "hl7:LIS", rt.pipeline, now)
    assert reply.code == "AA", reply.ack
    assert reply.inbox_id is not None
    assert run_inbox(rt, reply.inbox_id, now) == "processed"


def one(rt: Runtime, model: type[Any], *where: Any) -> Any:
    with rt.uow() as uow:
        found = uow.session.scalars(select(model).where(*where)).all()
        uow.session.expunge_all()
    assert len(found) == 1, found
    return found[0]


def count(rt: Runtime, model: type[Any], *where: Any) -> int:
    with rt.uow() as uow:
        return len(uow.session.scalars(select(model).where(*where)).all())


# 10. Administration -----------------------------------------------------------------------


def test_wards_add_creates_then_updates_the_escalation_settings(url: str, rt: Runtime) -> None:
    made = cli(url, "wards", "add", "MED4", "--name", "Medicine 4",
               "--escalate-critical-after", "5m", "--escalate-warning-after", "20m",
               "--repeat-every", "7m", "--fallback", "dr.backup")
    assert made.exit_code == 0, made.output
    ward = one(rt, Ward, Ward.code == "MED4")
    assert (ward.name, ward.escalate_critical_after_s, ward.escalate_warning_after_s,
            ward.repeat_every_s, ward.fallback_contact) == \
        ("Medicine 4", 300, 1200, 420, "dr.backup")

    updated = cli(url, "wards", "add", "MED4", "--repeat-every", "90s")
    assert updated.exit_code == 0, updated.output
    ward = one(rt, Ward, Ward.code == "MED4")
    assert (ward.escalate_critical_after_s, ward.repeat_every_s, ward.name) == \
        (300, 90, "Medicine 4")
    assert cli(url, "wards", "add", "MED4", "--repeat-every", "soon").exit_code != 0
    assert one(rt, Ward, Ward.code == "MED4").repeat_every_s == 90


def test_users_create_stores_an_argon2_hash_never_the_password(url: str, rt: Runtime) -> None:
    password = "correct horse battery staple"
    made = cli(url, "users", "create", "nurse.kim", "--role", "nurse", "--ward", "MED4",
               "--password-stdin", stdin=password + "\n")
    assert made.exit_code == 0, made.output
    assert password not in made.output
    user = one(rt, User, User.username == "nurse.kim")
    assert user.role == "nurse" and user.active
    assert user.password_hash is not None and user.password_hash.startswith("$argon2")
    assert password not in user.password_hash
    assert PasswordHasher().verify(user.password_hash, password)
    ward = one(rt, Ward, Ward.code == "MED4")  # an unknown ward is created
    assert count(rt, WardMembership, WardMembership.user_id == user.id,
                 WardMembership.ward_id == ward.id) == 1

    assert cli(url, "users", "create", "nurse.kim", "--role", "nurse").exit_code != 0
    assert cli(url, "users", "create", "lis", "--role", "feed").exit_code != 0
    assert count(rt, User) == 1


def test_channels_add_refuses_an_unsigned_webhook(url: str, rt: Runtime) -> None:
    assert cli(url, "users", "create", "nurse.kim", "--role", "nurse").exit_code == 0
    unsigned = cli(url, "channels", "add", "nurse.kim", "--webhook", "https://pager.example/h")
    assert unsigned.exit_code != 0
    assert count(rt, NotificationChannel) == 0
    assert cli(url, "channels", "add", "nobody", "--email", "x@example.org").exit_code != 0

    signed = cli(url, "channels", "add", "nurse.kim", "--webhook", "https://pager.example/h",
                 "--secret", "S")
    assert signed.exit_code == 0, signed.output
    mail = cli(url, "channels", "add", "nurse.kim", "--email", "kim@ward.example",
               "--show-mrn")
    assert mail.exit_code == 0, mail.output
    with rt.uow() as uow:
        rows = {(c.kind, c.target, c.secret, c.show_mrn)
                for c in uow.session.scalars(select(NotificationChannel))}
    assert rows == {("webhook", "https://pager.example/h", "S", False),
                    ("email", "kim@ward.example", None, True)}


def test_roster_add_is_for_physicians(url: str, rt: Runtime) -> None:
    for name, role in (("nurse.kim", "nurse"), ("dr.ali", "physician")):
        assert cli(url, "users", "create", name, "--role", role, "--ward", "MED4").exit_code == 0
    period = ("--from", "2026-11-26T08:00+01:00", "--to", "2026-11-26T20:00+01:00")
    refused = cli(url, "roster", "add", "--ward", "MED4", "--user", "nurse.kim", *period)
    assert refused.exit_code != 0
    assert count(rt, OnCallShift) == 0
    backwards = cli(url, "roster", "add", "--ward", "MED4", "--user", "dr.ali",
                    "--from", "2026-11-26T20:00+01:00", "--to", "2026-11-26T08:00+01:00")
    assert backwards.exit_code != 0

    ok = cli(url, "roster", "add", "--ward", "MED4", "--user", "dr.ali", *period)
    assert ok.exit_code == 0, ok.output
    shift = one(rt, OnCallShift)
    assert shift.starts_at == datetime(2026, 11, 26, 7, tzinfo=UTC)
    assert shift.ends_at == datetime(2026, 11, 26, 19, tzinfo=UTC)


# Alert actions and the overdue check, embedded ---------------------------------------------


def _staff(rt: Runtime) -> None:
    with rt.uow() as uow:
        admin.upsert_ward(uow, "MED4", T)
    for name, role in (("nurse.kim", "nurse"), ("dr.ali", "physician")):
        with rt.uow() as uow:
            admin.create_user(uow, name, role, T, wards=["MED4"])


def test_shelve_resolve_and_list_from_the_command_line(url: str, rt: Runtime) -> None:
    _staff(rt)
    deliver(rt, oru("E1", "E1-0", T - timedelta(hours=20), 121, received=T), T)
    deliver(rt, oru("E1", "E1-1", T - timedelta(hours=1), 131, received=T), T)
    alert = one(rt, Alert, Alert.rule == "OVERCORRECTION_24H")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SODIUM_")}
    env.update(SODIUM_DATABASE_URL=url, SODIUM_BROKER_URL="")
    shelve = [CLI, "alerts", "shelve", str(alert.id), "--user", "nurse.kim",
              "--reason", "in theatre", "--for"]
    too_long = subprocess.run([*shelve, "13h"], capture_output=True, text=True, timeout=120,
                              env=env)
    assert too_long.returncode != 0
    assert "12 h" in too_long.stderr
    assert one(rt, Alert, Alert.id == alert.id).lifecycle == "unacknowledged"
    shelved = cli(url, *shelve[1:], "2h")
    assert shelved.exit_code == 0, shelved.output
    assert one(rt, Alert, Alert.id == alert.id).lifecycle == "shelved"

    assert cli(url, "alerts", "resolve", str(alert.id), "--user", "nurse.kim",
               "--note", "fine").exit_code != 0
    resolved = cli(url, "alerts", "resolve", str(alert.id), "--user", "dr.ali",
                   "--note", "D5W started, recheck 4 h")
    assert resolved.exit_code == 0, resolved.output
    with rt.uow() as uow:
        trail = [(e.action, e.actor) for e in uow.session.scalars(
            select(AlertEvent).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id))]
    assert trail[-2:] == [("shelved", "nurse.kim"), ("resolved", "dr.ali")]

    every = cli(url, "alerts", "list", "--format", "jsonl", "--state", "all")
    shapes = {a["alert_id"]: a for a in map(json.loads, every.output.splitlines())}
    assert (shapes[str(alert.id)]["state"], shapes[str(alert.id)]["lifecycle"]) == \
        ("resolved", "resolved")
    active = cli(url, "alerts", "list", "--format", "jsonl", "--state", "active")
    assert str(alert.id) not in {json.loads(line)["alert_id"]
                                 for line in active.output.splitlines()}


def test_overdue_check_on_sqlite(rt: Runtime) -> None:
    _staff(rt)
    deliver(rt, oru("E2", "E2-0", T, 122, received=T), T)  # moderate: 12 h
    alerting(rt, T + timedelta(hours=12))
    assert count(rt, Alert, Alert.rule == "MEASUREMENT_OVERDUE") == 0
    alerting(rt, T + timedelta(hours=12, seconds=1))
    overdue = one(rt, Alert, Alert.rule == "MEASUREMENT_OVERDUE")
    assert (overdue.lifecycle, overdue.notify) == ("unacknowledged", True)
    assert overdue.next_notification_at == T + timedelta(hours=12, minutes=30, seconds=1)
    alerting(rt, T + timedelta(hours=12, minutes=5))
    assert count(rt, Alert, Alert.rule == "MEASUREMENT_OVERDUE") == 1
    assert count(rt, Delivery, Delivery.alert_id == overdue.id,
                 Delivery.recipient == "nurse.kim") == 1  # in-app, once
    deliver(rt, oru("E2", "E2-1", T + timedelta(hours=13, minutes=5), 124,
                    received=T + timedelta(hours=13, minutes=5)),
            T + timedelta(hours=13, minutes=5))
    alerting(rt, T + timedelta(hours=13, minutes=6))
    assert one(rt, Alert, Alert.id == overdue.id).lifecycle == "resolved"
