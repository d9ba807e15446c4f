"""Embedded mode end to end: SQLite, no broker, tasks in-process.

The examples go through the live receive -> inbox -> processing path and must give the
alerts expected.json describes; `sodium-monitor import` of the same files must give the
alerts `sodium-monitor replay` gives, and never page anyone.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.ingest.hl7_fields import split_messages
from monitor.runtime import Runtime
from monitor.runtime.drain import run_inbox
from monitor.services.alerting.listing import list_alerts
from monitor.services.intake.hl7 import receive_hl7
from monitor.storage.migrate import upgrade
from monitor.storage.tables import Alert, ApiToken, InboxItem
from tests.expectations import EXAMPLES, SCENARIOS, problems

CLI = str(Path(sys.executable).parent / "sodium-monitor")
HL7_SCENARIOS = [s for s in SCENARIOS if s["file"].endswith(".hl7")]
ALL_FILES = [str(EXAMPLES / s["file"]) for s in SCENARIOS]


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'embedded.db'}"


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    url = sqlite_url(tmp_path)
    upgrade(url)
    rt = Runtime(Settings(database_url=url, broker_url=""))
    assert rt.settings.embedded
    return rt


def cli(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SODIUM_")}
    env.update(SODIUM_DATABASE_URL=url, SODIUM_BROKER_URL="")
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env)


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def identity(alerts: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    return {(a["patient_id"], a["rule"], a["triggered_at"], a["state"]) for a in alerts}


def test_hl7_examples_received_and_processed_in_process_alert_as_expected(
        runtime: Runtime) -> None:
    for scenario in HL7_SCENARIOS:
        for message in split_messages((EXAMPLES / scenario["file"]).read_text()):
            reply = receive_hl7(runtime.uow(), message.text, "hl7:LIS", runtime.pipeline,
                                datetime.now(UTC))
            assert reply.code == "AA", (scenario["file"], reply.ack)
            assert reply.inbox_id is not None
            assert run_inbox(runtime, reply.inbox_id) in {"processed", "already-done"}
    with runtime.uow() as uow:
        found = list(list_alerts(uow, state="all"))
        states = set(uow.session.scalars(select(InboxItem.state)))
    assert states == {"done"}
    assert found, "no alert at all"
    failures = {s["patient_id"]: problems(s, found) for s in HL7_SCENARIOS}
    assert {k: v for k, v in failures.items() if v} == {}


def test_import_gives_replays_alerts_and_never_pages(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    assert cli("db", "upgrade", url=url, cwd=tmp_path).returncode == 0
    imported = cli("import", *ALL_FILES, url=url, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    listed = cli("alerts", "list", "--format", "jsonl", "--state", "all", url=url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    replayed = cli("replay", *ALL_FILES, url=url, cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr

    live, stateless = jsonl(listed.stdout), jsonl(replayed.stdout)
    assert stateless, "replay gave no alert: the comparison would prove nothing"
    assert {frozenset(a) for a in live} == {frozenset(stateless[0])}
    assert {frozenset(a) for a in stateless} == {frozenset(stateless[0])}
    assert identity(live) == identity(stateless)
    assert {(a["patient_id"], a["rule"], a["triggered_at"], a["result_key"]) for a in live} \
        == {(a["patient_id"], a["rule"], a["triggered_at"], a["result_key"]) for a in stateless}
    for scenario in SCENARIOS:  # the live import meets expected.json too
        assert problems(scenario, live) == [], scenario["patient_id"]

    rt = Runtime(Settings(database_url=url, broker_url=""))
    with Session(rt.engine) as s:
        notify = list(s.scalars(select(Alert.notify)))
        feeds = set(s.scalars(select(InboxItem.feed)))
        states = set(s.scalars(select(InboxItem.state)))
    assert len(notify) == len(live)
    assert not any(notify), "an imported (backfill) alert would page someone"
    assert feeds == {"import"} and states == {"done"}


def test_tokens_create_prints_the_token_alone_and_stores_only_its_hash(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    assert cli("db", "upgrade", url=url, cwd=tmp_path).returncode == 0
    made = cli("tokens", "create", "--role", "feed", "--name", "LIS", url=url, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert len(lines) == 1
    token = lines[0].strip()
    assert token == lines[0] and len(token) >= 32 and " " not in token

    rt = Runtime(Settings(database_url=url, broker_url=""))
    with Session(rt.engine) as s:
        rows = list(s.scalars(select(ApiToken)))
    rt.engine.dispose()
    assert len(rows) == 1
    row = rows[0]
    assert (row.name, row.role) == ("LIS", "feed")
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.token_hash != token
    # Nowhere in the database file (pages, journal leftovers) is the token itself.
    for path in tmp_path.glob("embedded.db*"):
        assert token.encode() not in path.read_bytes(), path.name

    bad = cli("tokens", "create", "--role", "janitor", "--name", "X", url=url, cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert "janitor" in bad.stderr
    with Session(rt.engine) as s:
        assert len(list(s.scalars(select(ApiToken)))) == 1
    rt.engine.dispose()
