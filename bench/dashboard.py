"""Dashboard server times on PostgreSQL (a benchmark, not a test).

    .venv/bin/python bench/dashboard.py [--database-url URL] [--repeat 30]

Fills a dedicated database (default sodium_monitor_bench_web, recreated) with:
a ward of 40 patients with 30 days of results each (6 a day), 5,000 patients with an active
alert each, and one patient with 500 results; then times the census, the alert board and
the patient page in-process (server time, from request to full response) and prints p50/p95.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from monitor.config import Settings
from monitor.runtime import Runtime
from monitor.services.operations import admin
from monitor.storage.migrate import upgrade
from monitor.storage.tables import Alert, Patient, Result
from monitor.web.app import create_app

NOW = datetime.now(UTC).replace(microsecond=0)


def reset(url: str) -> None:
    parsed = make_url(url)
    root = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with root.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    root.dispose()
    upgrade(url)


def fill(rt: Runtime) -> int:
    rng = random.Random(1)
    with rt.uow() as uow:
        for code in ("CENSUS", "BOARD"):
            admin.upsert_ward(uow, code, NOW)
    with rt.uow() as uow:
        admin.create_user(uow, "admin", "admin", NOW, password="bench")
    with rt.engine.begin() as c:
        wards = dict(c.execute(text("SELECT code, id FROM wards")).all())
        patients = [{"authority": "B", "identifier": f"C{i:03d}", "ward_id": wards["CENSUS"],
                     "bed": f"{i:02d}", "created_at": NOW, "updated_at": NOW} for i in range(40)]
        patients += [{"authority": "B", "identifier": f"A{i:05d}", "ward_id": wards["BOARD"],
                      "bed": str(i % 40), "created_at": NOW, "updated_at": NOW}
                     for i in range(5000)]
        patients.append({"authority": "B", "identifier": "P500", "ward_id": wards["CENSUS"],
                         "bed": "99", "created_at": NOW, "updated_at": NOW})
        c.execute(insert(Patient), patients)
        ids = dict(c.execute(text("SELECT identifier, id FROM patients")).all())
        results = []
        for i in range(40):
            value = rng.uniform(118, 130)
            for n in range(180):
                value = min(140.0, value + rng.gauss(0.1, 0.8))
                results.append(_result(ids[f"C{i:03d}"], f"C{i}-{n}", NOW - timedelta(
                    hours=4 * (180 - n)), round(value)))
        for n in range(500):
            results.append(_result(ids["P500"], f"P-{n}", NOW - timedelta(hours=2 * (500 - n)),
                                   120 + (n % 20) / 2))
        c.execute(insert(Result), results)
        c.execute(insert(Alert), [{
            "patient_id": ids[f"A{i:05d}"], "rule": "OVERCORRECTION_24H",
            "severity": "critical" if i % 3 else "warning", "state": "active",
            "lifecycle": "unacknowledged", "triggered_at": NOW - timedelta(minutes=i),
            "value_mmol_l": 127, "rise_mmol_l": 9, "window_hours": 24, "limit_mmol_l": 8,
            "risk_tier": "standard", "risk_factors": [], "mixed_methods": False, "test": False,
            "notify": False, "policy": "default", "message": "Sodium rose 9 mmol/L in 24 h.",
            "evidence": {}, "escalation_level": 0, "created_at": NOW - timedelta(minutes=i),
            "updated_at": NOW} for i in range(5000)])
        return int(ids["P500"])


def _result(pid: int, key: str, at: datetime, value: float) -> dict[str, object]:
    return {"patient_id": pid, "source_feed": "hl7:BENCH", "result_key": key,
            "arrival_seq": 1, "analyte": "sodium", "loinc_code": "2951-2", "method": "lab",
            "value_raw": f"{value:g}", "unit_raw": "mmol/L", "value_mmol_l": value,
            "collected_at": at, "received_at": at, "status": "final", "test": False,
            "is_current": True, "removed": False}


def timed(client: TestClient, path: str, repeat: int) -> dict[str, float]:
    client.get(path)  # warm-up
    ms = []
    for _ in range(repeat):
        began = time.perf_counter()
        reply = client.get(path)
        ms.append((time.perf_counter() - began) * 1000)
        assert reply.status_code == 200, (path, reply.status_code)
    ms.sort()
    return {"p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432/"
                                "sodium_monitor_bench_web")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    reset(args.database_url)
    rt = Runtime(Settings(database_url=args.database_url, broker_url=""))
    big = fill(rt)
    client = TestClient(create_app(rt))
    client.post("/login", data={"username": "admin", "password": "bench"})
    print(json.dumps({
        "census_40_patients_30_days": timed(client, "/wards/CENSUS", args.repeat),
        "board_5000_active": timed(client, "/board", args.repeat),
        "patient_page_500_results": timed(client, f"/patients/{big}", args.repeat),
    }, indent=2))


if __name__ == "__main__":
    main()
