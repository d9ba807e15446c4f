"""Cost per result over a long stay with an alert open the whole time (issue 10, item 6).

    .venv/bin/python bench/long_stay.py [--results 5000] [--every-hours 2] \
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/sodium_monitor_bench_stay]

One patient; a sodium every --every-hours between 114 and 119 mmol/L, so SEVERE_HYPONATREMIA
holds at every result and its alert stays open with one more finding each time. Each result
is received into the inbox like a live message and processed as a batch of its own (what a
quiet feed gets), in this process. Reported per result, for the results around 10, 100,
1,000 and 5,000: CPU of this process (the worker's work) and of its PostgreSQL backend
(/proc/<pid>/stat of `pg_backend_pid()`), SQL statements, and wall time. The database named
by --database-url (it must contain "bench") is dropped and recreated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/sodium_monitor_bench_stay"
TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=5000)
    parser.add_argument("--every-hours", type=float, default=2.0)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if "bench" not in args.database_url.rsplit("/", 1)[-1]:
        parser.error("the database name must contain 'bench': it is dropped and recreated")

    from sqlalchemy import create_engine, event, text
    from sqlalchemy.engine import make_url

    url = make_url(args.database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
        c.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()

    from monitor.config import Settings
    from monitor.runtime import Runtime
    from monitor.runtime.drain import run_batch
    from monitor.services.intake.payload import receive_text
    from monitor.storage.migrate import upgrade
    from tests.hl7_builders import oru

    upgrade(args.database_url)
    from sqlalchemy.pool import StaticPool

    rt = Runtime(Settings(database_url=args.database_url, broker_url=""))
    # One connection, so one backend does all of the worker's statements.
    rt.__dict__["engine"] = create_engine(args.database_url, poolclass=StaticPool)
    statements = {"n": 0}

    @event.listens_for(rt.engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        statements["n"] += 1

    with rt.engine.connect() as c:
        backend = c.execute(text("SELECT pg_backend_pid()")).scalar_one()

    start = datetime.now(UTC) - timedelta(hours=args.every_hours * args.results)
    marks = {m for m in (10, 100, 1000, 5000, args.results) if m <= args.results}
    window = 10  # results measured around each mark
    rows: list[dict[str, Any]] = []
    sample: dict[str, float] = {}
    for n in range(1, args.results + 1):
        at = start + timedelta(hours=args.every_hours * n)
        message = oru("STAY01", f"S-{n}", at, 114 + n % 6, control_id=f"C{n}", received=at)
        if any(m - window < n <= m for m in marks) and not sample:
            sample = {"cpu": time.process_time(), "pg": proc_cpu(backend),
                      "wall": time.perf_counter(), "sql": statements["n"], "from": n}
        with rt.uow() as uow:
            receive_text(uow, "hl7", "hl7:LIS", message, rt.pipeline, at)
        run_batch(rt, now=at)
        if n in marks and sample:
            k = n - sample["from"] + 1
            rows.append({
                "results_so_far": n,
                "worker_cpu_ms": round((time.process_time() - sample["cpu"]) / k * 1000, 3),
                "postgres_cpu_ms": round((proc_cpu(backend) - sample["pg"]) / k * 1000, 3),
                "statements": round((statements["n"] - sample["sql"]) / k, 1),
                "wall_ms": round((time.perf_counter() - sample["wall"]) / k * 1000, 2)})
            sample = {}
    with rt.uow() as uow:
        count, evidence = uow.session.execute(text(
            "SELECT count(*), max(evidence_count) FROM alerts WHERE state = 'active'")).one()
    summary = {"results": args.results, "every_hours": args.every_hours,
               "active_alerts": count, "evidence_of_the_open_alert": evidence,
               "per_result": rows,
               "note": "each figure includes receiving the message into the inbox (the "
                       "listener's work) as well as processing it"}
    print(json.dumps(summary, indent=2))
    print("\n| results so far | worker CPU ms | PostgreSQL CPU ms | statements | wall ms |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['results_so_far']:,} | {r['worker_cpu_ms']} | {r['postgres_cpu_ms']} | "
              f"{r['statements']} | {r['wall_ms']} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
    rt.engine.dispose()


if __name__ == "__main__":
    main()
