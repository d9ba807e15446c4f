"""`sodium-monitor demo` as a new user runs it: a subprocess on free ports, fed by its own
ward simulator over MLLP; asserted through the API with the printed credentials."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx

from tests.integration.stack import (
    CLI,
    MllpConnection,
    free_port,
    interruptible,
    port_open,
    wait_for,
)

RATE = {"OVERCORRECTION_24H", "OVERCORRECTION_48H", "PROJECTED_OVERCORRECTION"}


def test_demo_shows_a_critical_alert_for_the_overcorrecting_patient_only(tmp_path: Path) -> None:
    port, mllp = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SODIUM_")}
    demo = subprocess.Popen([CLI, "demo", "--port", str(port), "--mllp-port", str(mllp),
                             "--speed", "10"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=interruptible)
    try:
        wait_for(lambda: port_open(port), 60, "the demo's web app")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10,
                      follow_redirects=True) as http:
            assert http.get("/healthz").status_code == 200
            login = http.post("/login", data={"username": "dr.ali", "password": "demo-doctor"})
            assert login.status_code == 200 and "Alert board" in login.text

            def alerts() -> list[dict]:
                return list(http.get("/api/v1/alerts").json())

            def critical_for(mrn: str) -> bool:
                return any(a["patient_id"] == mrn and a["rule"] == "OVERCORRECTION_24H"
                           and a["severity"] == "critical" for a in alerts())

            wait_for(lambda: critical_for("DEMO-001") and critical_for("DEMO-002"), 90,
                     "the simulator's overcorrections", every=1)
            slow = [a for a in alerts() if a["patient_id"] == "DEMO-003"]
            assert not [a for a in slow if a["rule"] in RATE], slow
            assert any(a["rule"] == "PROJECTED_OVERCORRECTION" for a in alerts())
            first = next(a for a in alerts() if a["patient_id"] == "DEMO-001"
                         and a["rule"] == "OVERCORRECTION_24H")
        assert (tmp_path / "var" / "sodium-monitor.db").exists()  # the embedded default
        # The console: a reject and an acknowledgement made elsewhere appear as lines.
        feed = MllpConnection(mllp)
        try:
            refused = feed.send("MSH|^~\\&|LAB|CITYGEN|SODMON|CITYGEN|20261201080000||"
                                "ZZZ^Z01|CONSOLE-1|P|2.5.1")
        finally:
            feed.close()
        assert "|AR|" in refused or "MSA|AR" in refused, refused
        ack = subprocess.run([CLI, "alerts", "ack", first["alert_id"], "--user", "nurse.kim"],
                             cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=60)
        assert ack.returncode == 0, ack.stdout + ack.stderr
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        out, _ = demo.communicate(timeout=30)
    text = out.decode()
    assert "dr.ali" in text and "demo-doctor" in text  # the printed logins
    assert "stopped" in text  # Ctrl-C stops cleanly
    lines = text.splitlines()
    assert any("ALERT raised  critical OVERCORRECTION_24H  patient DEMO-001  Na " in x
               for x in lines), text
    assert any("ALERT acknowledged by nurse.kim  critical OVERCORRECTION_24H  patient "
               "DEMO-001" in x for x in lines), text
    assert any("REJECT hl7:LAB" in x and "ZZZ" in x for x in lines), text
