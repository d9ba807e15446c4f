"""`sodium-monitor check` against the real test services: a probe's exit codes."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime

from sqlalchemy import Engine

from monitor.config import Settings
from monitor.runtime import Runtime
from monitor.scheduling.jobs import heartbeat
from tests.integration.stack import CLI


def run_check(pg: str, broker: str, tmp: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SODIUM_")}
    env |= {"SODIUM_DATABASE_URL": pg, "SODIUM_BROKER_URL": broker}
    return subprocess.run([CLI, "check", "--json"], env=env, cwd=tmp, capture_output=True,
                           text=True, timeout=60)


def test_check_is_ok_with_the_services_up_and_critical_without_redis(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: object) -> None:
    heartbeat(Runtime(Settings(database_url=pg_migrated, broker_url=redis_url)),
              now=datetime.now(UTC))
    ok = run_check(pg_migrated, redis_url, str(tmp_path))
    report = json.loads(ok.stdout)
    assert ok.returncode == 0, report
    assert {c["name"]: c["status"] for c in report["checks"]} == {
        "database": "OK", "migrations": "OK", "broker": "OK", "scheduler": "OK", "feeds": "OK",
        "codes": "OK"}
    down = run_check(pg_migrated, "redis://127.0.0.1:1/0", str(tmp_path))
    assert down.returncode == 2
    broker = next(c for c in json.loads(down.stdout)["checks"] if c["name"] == "broker")
    assert broker["status"] == "CRITICAL"


def test_a_stale_heartbeat_is_a_warning(pg_engine: Engine, pg_migrated: str, redis_url: str,
                                        tmp_path: object) -> None:
    heartbeat(Runtime(Settings(database_url=pg_migrated, broker_url=redis_url)),
              now=datetime(2026, 1, 1, tzinfo=UTC))
    stale = run_check(pg_migrated, redis_url, str(tmp_path))
    assert stale.returncode == 1
    assert json.loads(stale.stdout)["status"] == "WARNING"
