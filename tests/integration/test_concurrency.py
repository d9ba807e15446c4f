"""Out-of-order arrival over several connections into two worker processes, and a worker
killed mid-run: the live state must equal a replay of the same results."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hl7.client
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from monitor.storage.tables import Result
from tests.hl7_builders import oru
from tests.integration.helpers import alerts, all_processed, inbox_states
from tests.integration.stack import CLI, ack_code, stack, wait_for

START = datetime(2026, 9, 14, 8, tzinfo=UTC)


def ward_messages(patients: int, per_patient: int, seed: int) -> list[tuple[datetime, str]]:
    """(collection time, message): a few patients correct too fast, most safely."""
    rng = random.Random(seed)
    out = []
    for p in range(patients):
        value = rng.uniform(112, 128)
        per_day = rng.choice([3, 5, 11, 14]) if p % 3 else rng.uniform(2, 5)
        for n in range(per_patient):
            at = START + timedelta(hours=6 * n + p % 5)
            out.append((at, oru(f"C{p:04d}", f"C{p:04d}-{n:03d}", at,
                                round(value + per_day * 6 * n / 24 + rng.gauss(0, 0.6)))))
    return out


def active_set(found: list[dict]) -> set[tuple[str, str, str, str]]:
    return {(a["patient_id"], a["rule"], a["triggered_at"], a["severity"])
            for a in found if a["state"] == "active"}


def replayed(messages: list[str], tmp_path: Path) -> list[dict]:
    feed = tmp_path / "feed.hl7"
    feed.write_text("\n".join(messages) + "\n")
    run = subprocess.run([CLI, "replay", str(feed)], capture_output=True, text=True,
                         timeout=120, env={k: v for k, v in os.environ.items()
                                           if not k.startswith("SODIUM_")})
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


def send_over(port: int, messages: list[str], connections: int) -> list[tuple[str, str]]:
    def one(batch: list[str]) -> list[tuple[str, str]]:
        client = hl7.client.MLLPClient("127.0.0.1", port)
        try:
            return [ack_code(client.send_message(m).decode()) for m in batch]
        finally:
            client.close()

    batches = [messages[i::connections] for i in range(connections)]
    with ThreadPoolExecutor(connections) as pool:
        return [code for codes in pool.map(one, batches) for code in codes]


def test_shuffled_results_over_four_connections_equal_replay_in_collection_order(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path) -> None:
    timed = ward_messages(20, 10, seed=3)
    in_order = [m for _, m in sorted(timed, key=lambda x: x[0])]
    shuffled = [m for _, m in timed]
    random.Random(5).shuffle(shuffled)
    with stack(pg_migrated, redis_url, tmp_path) as s:
        port = s.mllp()
        s.worker(concurrency=2)
        s.worker(concurrency=2)
        codes = send_over(port, shuffled, connections=4)
        assert [c for c, _ in codes] == ["AA"] * 200
        wait_for(lambda: all_processed(pg_engine, 200), 180, "two workers", every=0.5)
    expected = active_set(replayed(in_order, tmp_path))
    assert any(rule == "OVERCORRECTION_24H" for _, rule, _, _ in expected)
    assert active_set(alerts(pg_engine)) == expected


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path) -> None:
    timed = sorted(ward_messages(100, 10, seed=11), key=lambda x: x[0])
    messages = [m for _, m in timed]
    fast_sweep = {"SODIUM_INBOX_SWEEP_AFTER": "PT3S", "SODIUM_SWEEP_INTERVAL": "PT1S"}
    with stack(pg_migrated, redis_url, tmp_path, **fast_sweep) as s:
        port = s.mllp()
        s.scheduler()
        first = s.worker(concurrency=2)
        codes = send_over(port, messages, connections=2)
        assert {c for c, _ in codes} == {"AA"}
        wait_for(lambda: inbox_states(pg_engine).get("done", 0) >= 100, 120, "some progress")
        s.stop(first, signal.SIGKILL)
        done_at_kill = inbox_states(pg_engine).get("done", 0)
        assert done_at_kill < 1000, "the worker finished before it could be killed"
        time.sleep(1)
        s.worker(concurrency=2)
        wait_for(lambda: all_processed(pg_engine, 1000), 240, "the second worker", every=0.5)
    with Session(pg_engine) as db:
        versions = db.execute(select(Result.result_key, func.count()).group_by(
            Result.result_key)).all()
    assert len(versions) == 1000 and {n for _, n in versions} == {1}
    live = alerts(pg_engine)
    active = [(a["patient_id"], a["rule"]) for a in live if a["state"] == "active"]
    assert len(active) == len(set(active)), "an alert was duplicated"
    assert active_set(live) == active_set(replayed(messages, tmp_path))
