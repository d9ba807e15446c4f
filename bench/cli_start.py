"""How fast the command line starts: wall and CPU time of small commands.

    .venv/bin/python bench/cli_start.py [--runs 10]

Each command runs `--runs` times in a fresh process against an empty SQLite database;
the median wall time and the median CPU time (user + system of the child) are printed
with the machine's load. Issue 15's target: `--help` and small commands under 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = str(Path(sys.executable).parent / "sodium-monitor")
COMMANDS = (["--help"], ["--version"], ["replay", "--help"], ["policies"],
            ["replay", "{small}"])


def measure(args: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        subprocess.run([CLI, *args], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - began)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small.csv"
        small.write_text("patient_id,collected_at,sodium\n"
                         "P1,2026-10-05T07:00:00+00:00,117\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SODIUM_")}
        env["SODIUM_DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
        print(f"load average before: {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs, "
              f"{runs} runs each")
        print("| command | wall s (median) | CPU s (median) |\n|---|---|---|")
        for command in COMMANDS:
            args = [a.replace("{small}", str(small)) for a in command]
            wall, cpu = measure(args, env, runs)
            shown = " ".join("SMALL.csv" if a == str(small) else a for a in args)
            print(f"| `sodium-monitor {shown}` | {wall:.3f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
