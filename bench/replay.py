"""Benchmark of `sodium-monitor replay` on a generated feed.

    .venv/bin/python bench/replay.py [--patients 100000] [--per-patient 10] [--seed 7]

Generates realistic sodium trajectories (a few % overcorrecting), writes them as one CSV in
collection-time order (the order a lab would send them), runs the real `replay` command on it
and reports results per second and the peak memory of the replay process.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2026, 1, 1, tzinfo=UTC)


def trajectory(rng: random.Random, n: int) -> list[tuple[float, float]]:
    """(hours since admission, mmol/L): a nadir, then correction at a per-patient rate."""
    value = rng.uniform(108, 134)
    fast = rng.random() < 0.04  # a few % correct too fast (e.g. aquaresis)
    per_day = rng.uniform(9, 16) if fast else rng.uniform(1, 6)
    hours, points = 0.0, []
    for _ in range(n):
        points.append((hours, round(value + rng.gauss(0, 0.7))))
        step = rng.choice((4, 6, 6, 8, 12))
        hours += step
        value = min(value + per_day * step / 24, 142)
    return points


def generate(path: Path, patients: int, per_patient: int, seed: int) -> int:
    rng = random.Random(seed)
    rows: list[tuple[datetime, str, float]] = []
    for p in range(patients):
        admitted = START + timedelta(minutes=rng.randrange(60 * 24 * 30))
        for hours, value in trajectory(rng, per_patient):
            rows.append((admitted + timedelta(hours=hours), f"B{p:06d}", value))
    rows.sort()
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["patient_id", "collected_at", "sodium"])
        for at, pid, value in rows:
            out.writerow([pid, at.isoformat(), f"{value:g}"])
    return len(rows)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--per-patient", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("var/bench"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    feed = args.workdir / "replay.csv"
    count = generate(feed, args.patients, args.per_patient, args.seed)
    cli = Path(sys.executable).parent / "sodium-monitor"
    out = args.workdir / "alerts.jsonl"
    began = time.perf_counter()
    subprocess.run([str(cli), "replay", "--format", "csv", "--output", str(out), str(feed)],
                   check=True)
    elapsed = time.perf_counter() - began
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    patients_alerted = len({a["patient_id"] for a in alerts if a["rule"] == "OVERCORRECTION_24H"})
    print(json.dumps({
        "results": count,
        "seconds": round(elapsed, 2),
        "results_per_second": round(count / elapsed),
        "peak_rss_mib": round(peak_mib),
        "alerts": len(alerts),
        "patients_with_OVERCORRECTION_24H": patients_alerted,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
