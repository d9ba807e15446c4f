"""The ward simulator's sender: history first, then the live part, over real MLLP."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from monitor.sim.scenarios import Sample, Scenario, oru, timeline, ward

log = logging.getLogger(__name__)
START, END = b"\x0b", b"\x1c\x0d"


class MllpSender:
    def __init__(self, host: str, port: int, timeout: float = 30) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""

    def send(self, message: str) -> str:
        self.sock.sendall(START + message.encode() + END)
        while END not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the listener closed the connection")
            self.buffer += chunk
        frame, _, self.buffer = self.buffer.partition(END)
        return frame.lstrip(START).decode(errors="replace")

    def close(self) -> None:
        self.sock.close()


def ack_code(ack: str) -> str:
    for segment in ack.split("\r"):
        if segment.startswith("MSA|"):
            return segment.split("|")[1]
    return "?"


# The demo's own record numbers; `simulate` uses a prefix of its own per run, so that
# pointing it at a running demo never adds results to the demo's patients.
DEMO_PREFIX = "DEMO"
# Called with each message sent and the code of its acknowledgement (AA, AE, AR).
OnSent = Callable[[str, str], None]


def run_prefix(moment: datetime) -> str:
    """A record-number prefix of its own for each run: S and the time of day it started."""
    return moment.strftime("S%H%M%S")


def scaled(patients: int, prefix: str = DEMO_PREFIX) -> list[Scenario]:
    """The demo ward, repeated under new record numbers until there are `patients`; the
    record numbers start with `prefix` (DEMO-001 for the demo, S224103-001 for a run)."""
    base = ward()
    out = []
    for i in range(patients):
        s = base[i % len(base)]
        suffix = "" if i < len(base) else f"-{i // len(base)}"
        mrn = prefix + s.mrn.removeprefix(DEMO_PREFIX) + suffix
        # Copies get another given name (of the base ward), so that names stay distinct.
        given = base[(i + i // len(base)) % len(base)].person.given
        person = replace(s.person, given=given) if i >= len(base) else s.person
        out.append(Scenario(mrn, s.ward, s.bed, s.story, s.samples, s.diagnoses, person))
    return out


def run(host: str, port: int, *, patients: int = 12, rate: float = 3.0,
        stop: threading.Event | None = None, start: datetime | None = None,
        prefix: str = DEMO_PREFIX, on_sent: OnSent | None = None) -> int:
    """Send the history at once, then one live result every `rate` seconds. Returns how
    many messages were acknowledged AA; `on_sent` hears of every message as it goes."""
    stop = stop or threading.Event()
    start = start or datetime.now(UTC)
    stamp = start.strftime("%m%d%H%M%S")
    scenarios = scaled(patients, prefix)
    history, live = timeline(scenarios, start, stamp)
    sender = MllpSender(host, port)
    accepted = 0

    def send(message: str) -> None:
        nonlocal accepted
        code = ack_code(sender.send(message))
        accepted += code == "AA"
        if on_sent is not None:
            on_sent(message, code)

    try:
        for message in history:
            send(message)
        log.info("simulator: %d history messages sent", len(history))
        for _, message in live:
            if stop.wait(rate):
                return accepted
            send(message)
        log.info("simulator: scripted part done; stable patients continue in real time")
        _continue(send, scenarios, stamp, rate, stop)
    finally:
        sender.close()
    return accepted


def _continue(send: Callable[[str], None], scenarios: list[Scenario], stamp: str,
              rate: float, stop: threading.Event) -> None:
    """New results collected now for the patients whose sodium is stable: a live feed."""
    stable = [s for s in scenarios if s.story.startswith(("mild", "normal"))]
    n = 100
    while stable and not stop.wait(rate):
        s = stable[n % len(stable)]
        last = next(x for x in reversed(s.samples) if x.analyte == "sodium")
        now = datetime.now(UTC)
        send(oru(s, n, Sample(0.0, last.value), now, now, stamp))
        n += 1


def describe(message: str) -> str:
    """One line for a person watching the simulator: patient, bed, what was sent."""
    fields = {line[:3]: line.split("|") for line in message.split("\r")}
    pid, pv1 = fields.get("PID", []), fields.get("PV1", [])
    patient = pid[3].split("^")[0] if len(pid) > 3 else "?"
    bed = "/".join(pv1[3].split("^")[:3]) if len(pv1) > 3 else ""
    if "OBX" in fields:
        obx = fields["OBX"]
        name = obx[3].split("^")[1] if len(obx) > 3 and "^" in obx[3] else "?"
        what = name.split(" [")[0]
        collected = obx[14] if len(obx) > 14 else ""
        clock = f"{collected[:4]}-{collected[4:6]}-{collected[6:8]} {collected[8:10]}:" \
            f"{collected[10:12]} UTC" if len(collected) >= 12 else "?"
        status = {"C": " (correction)", "P": " (preliminary)"}.get(obx[11], "") \
            if len(obx) > 11 else ""
        return f"{patient:<14} {bed:<10} {what} {obx[5]} {obx[6]}{status}, collected {clock}"
    return f"{patient:<14} {bed:<10} ADT A08 (diagnoses)"


def run_in_background(host: str, port: int, rate: float) -> tuple[threading.Thread,
                                                                   threading.Event]:
    stop = threading.Event()

    def target() -> None:
        for _ in range(50):  # the listener may still be starting
            try:
                run(host, port, rate=rate, stop=stop)
                return
            except ConnectionRefusedError:
                time.sleep(0.2)
            except OSError as error:
                log.warning("simulator stopped: %s", error)
                return

    thread = threading.Thread(target=target, name="simulator", daemon=True)
    thread.start()
    return thread, stop


class AlertWatch:
    """The alerts a deployment raised for this run's patients, read from its API
    (`GET /api/v1/alerts` with a bearer token): the MLLP acknowledgement says only that a
    result was stored, not what it raised."""

    def __init__(self, api: str, token: str, prefix: str, timeout: float = 5) -> None:
        self.url = api.rstrip("/") + "/api/v1/alerts?state=all"
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.prefix, self.timeout = prefix, timeout
        self.seen: set[str] = set()

    def new(self) -> list[dict[str, object]]:
        """Alerts of this run not reported before (oldest first)."""
        import json
        import urllib.request

        request = urllib.request.Request(self.url, headers=self.headers)
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            alerts = json.loads(response.read())
        fresh = [a for a in reversed(alerts) if str(a.get("patient_id", "")).startswith(
            self.prefix) and a.get("alert_id") not in self.seen]
        self.seen.update(str(a["alert_id"]) for a in fresh)
        return fresh
