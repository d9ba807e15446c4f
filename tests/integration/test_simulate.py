"""`sodium-monitor simulate` against a running deployment on PostgreSQL (issue 15): a line
per message and per alert as they happen, a summary on Ctrl-C, and record numbers of its
own per run."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

from sqlalchemy import Engine, select

from monitor.storage.tables import Patient
from tests.integration.stack import CLI, interruptible, stack, wait_for


def simulate(s_env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen([CLI, "simulate", *args], env=s_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=interruptible)
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return proc, lines


def interrupt(proc: subprocess.Popen[str]) -> int:
    os.killpg(proc.pid, signal.SIGINT)
    return proc.wait(timeout=30)


def test_simulate_prints_messages_and_alerts_and_a_summary_with_its_own_record_numbers(
        pg_engine: Engine, pg_migrated: str, tmp_path: Path) -> None:
    with stack(pg_migrated, "", tmp_path) as s:  # embedded tasks: the listener evaluates
        port = s.mllp()
        api = s.api()
        token = subprocess.run([CLI, "tokens", "create", "--role", "admin", "--name", "sim"],
                               env=s.env(), capture_output=True, text=True, timeout=60,
                               check=True).stdout.strip()
        first, out = simulate(s.env(), "--to", f"127.0.0.1:{port}", "--patients", "4",
                              "--rate", "0.2", "--prefix", "RUNA", "--api", api,
                              "--token", token)
        try:
            wait_for(lambda: any(" ALERT critical " in x for x in out), 60,
                     "an alert line from the simulator", every=0.5)
        except AssertionError:
            raise AssertionError("\n".join(out) + s.logs()) from None
        assert interrupt(first) == 0
        wait_for(lambda: any(x.startswith("simulate: ") and " messages " in x for x in out),
                 10, "the summary")
        sent = [x for x in out if "  AA    RUNA-" in x]
        assert sent, out
        assert any("Sodium 115 mmol/L, collected" in x for x in sent), sent
        alert = next(x for x in out if " ALERT critical " in x)
        assert "RUNA-00" in alert and "mmol/L" in alert
        summary = out[-1]
        assert summary.startswith(f"simulate: {len(sent)} messages (AA {len(sent)}), ")
        assert " alerts in " in summary

        second, out2 = simulate(s.env(), "--to", f"127.0.0.1:{port}", "--patients", "3",
                                "--rate", "0.2")  # the default prefix: S and the time
        wait_for(lambda: sum("  AA    S" in x for x in out2) >= 3, 60, "the second run")
        assert interrupt(second) == 0
    with pg_engine.connect() as c:
        mrns = set(c.scalars(select(Patient.identifier)))
    run_a = {"RUNA-001", "RUNA-002", "RUNA-003", "RUNA-004"}
    assert run_a <= mrns
    others = mrns - run_a
    assert others and all(m.startswith("S") and m[1:7].isdigit() for m in others), mrns
    assert not any(m.startswith("DEMO-") for m in mrns)  # never the demo's patients
