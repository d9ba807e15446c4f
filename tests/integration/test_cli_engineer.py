"""The command line as an integration engineer uses it, on PostgreSQL: `alerts list` with
an overdue alert, `import` counts, `check` without pseudo-feeds (issue 15)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from monitor.config import Settings
from monitor.runtime import Runtime
from monitor.scheduling.jobs import alerting, heartbeat
from monitor.services.intake.hl7 import receive_hl7
from monitor.storage.tables import RejectRow
from tests.hl7_builders import oru
from tests.integration.receivers import WebhookReceiver
from tests.integration.stack import CLI
from tests.integration.test_alerting_checks import OVERDUE, alerts_of, hospital, sodium
from tests.integration.test_alerting_checks import hooks as hooks
from tests.integration.test_alerting_checks import rt as rt

# A winter moment two days ago (fixed minutes) in a zone whose name the table must show.
T = (datetime.now(UTC) - timedelta(days=2)).replace(hour=10, minute=0, second=0,
                                                     microsecond=0)


def cli(url: str, *args: str, tz: str = "UTC", cwd: Path | None = None,
        ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SODIUM_")}
    env |= {"SODIUM_DATABASE_URL": url, "SODIUM_BROKER_URL": "", "SODIUM_TIMEZONE": tz}
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def test_alerts_list_shows_an_overdue_alert_with_a_header_and_local_times(
        rt: Runtime, pg_migrated: str, hooks: dict[str, WebhookReceiver]) -> None:
    hospital(rt, hooks, T, on_call_until=T + timedelta(days=1))
    sodium(rt, "OD9", 0, T, 122)  # moderate band: a sodium every 12 h
    alerting(rt, T + timedelta(hours=12, seconds=1))
    [overdue] = alerts_of(rt, "OD9", OVERDUE)

    jsonl = cli(pg_migrated, "alerts", "list", "--format", "jsonl")
    assert jsonl.returncode == 0, jsonl.stderr
    [row] = [json.loads(line) for line in jsonl.stdout.splitlines()
             if json.loads(line)["rule"] == OVERDUE]
    assert row["alert_id"] == str(overdue.id) and row["patient_id"] == "OD9"

    table = cli(pg_migrated, "alerts", "list", tz="America/New_York")
    assert table.returncode == 0, table.stderr
    head, *lines = table.stdout.splitlines()
    assert head.split() == ["ALERT", "PATIENT", "RULE", "SEVERITY", "STATE", "TRIGGERED",
                            "SODIUM"]
    [line] = [x for x in lines if OVERDUE in x]
    local = overdue.triggered_at.astimezone(Settings(timezone="America/New_York").zone)
    assert local.strftime("%Y-%m-%d %H:%M %Z") in line  # e.g. "2026-11-30 05:00 EST"
    assert local.tzname() in ("EST", "EDT")


def test_import_counts_results_rejects_and_alerts_and_refuses_a_readme(
        pg_engine: Engine, pg_migrated: str, tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text("patient_id,collected_at,sodium\n"
                    "IM1,2026-10-05T07:00:00+00:00,117\n"
                    "IM1,2026-10-05T13:00:00+00:00,119\n"
                    "IM1,2026-10-05T19:00:00+00:00,not-a-number\n"
                    "IM2,2026-10-05T08:00:00+00:00,135\n")
    readme = tmp_path / "README.md"
    readme.write_text("# Feeds\nThese files were exported from the LIS.\n")

    run = cli(pg_migrated, "import", str(feed), str(readme))
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert any(x.startswith(f"{readme}: rejected: cannot tell whether") for x in lines), lines
    # The bad row named by its file, its payload's start and its line in that payload.
    assert f"{feed}, payload from line 2 (import:4): rejected: value 'not-a-number' " \
        "is not a number" in lines
    # One payload (the CSV chunk), three results, the bad row and the README refused, and
    # the severe-band alert of IM1.
    assert lines[-1] == "import: 1 payloads stored, 3 results, 2 rejected, 1 alerts"
    with pg_engine.connect() as c:
        reasons = {r.position: r.reason for r in c.execute(select(RejectRow))}
    assert reasons[str(readme)].startswith("cannot tell whether")


def test_check_does_not_count_the_unknown_sender_pseudo_feed(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path) -> None:
    rt = Runtime(Settings(database_url=pg_migrated, broker_url=""))
    now = datetime.now(UTC)
    heartbeat(rt, now=now)
    assert receive_hl7(rt.uow(), oru("CK1", "CK1-0", now, 131), "hl7:LIS", rt.pipeline,
                       now).code == "AA"
    # Bytes that name no sender are refused and filed under the pseudo-feed hl7:unknown.
    receive_hl7(rt.uow(), "not an HL7 message", "hl7:unknown", rt.pipeline, now)
    run = cli(pg_migrated, "check", "--json", cwd=tmp_path)
    feeds = next(c for c in json.loads(run.stdout)["checks"] if c["name"] == "feeds")
    assert (feeds["status"], feeds["detail"]) == ("OK", "1 live")
