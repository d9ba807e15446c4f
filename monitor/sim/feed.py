"""The ward simulator's sender: history first, then the live part, over real MLLP."""

from __future__ import annotations

import logging
import socket
import threading
import time
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


def scaled(patients: int) -> list[Scenario]:
    """The demo ward, repeated under new record numbers until there are `patients`."""
    base = ward()
    out = []
    for i in range(patients):
        s = base[i % len(base)]
        suffix = "" if i < len(base) else f"-{i // len(base)}"
        out.append(Scenario(s.mrn + suffix, s.ward, s.bed, s.story, s.samples, s.diagnoses))
    return out


def run(host: str, port: int, *, patients: int = 12, rate: float = 3.0,
        stop: threading.Event | None = None, start: datetime | None = None) -> int:
    """Send the history at once, then one live result every `rate` seconds. Returns how
    many messages were acknowledged AA."""
    stop = stop or threading.Event()
    start = start or datetime.now(UTC)
    stamp = start.strftime("%m%d%H%M%S")
    history, live = timeline(scaled(patients), start, stamp)
    sender = MllpSender(host, port)
    accepted = 0
    try:
        for message in history:
            accepted += ack_code(sender.send(message)) == "AA"
        log.info("simulator: %d history messages sent", len(history))
        for _, message in live:
            if stop.wait(rate):
                return accepted
            accepted += ack_code(sender.send(message)) == "AA"
        log.info("simulator: scripted part done; stable patients continue in real time")
        accepted += _continue(sender, scaled(patients), stamp, rate, stop)
    finally:
        sender.close()
    return accepted


def _continue(sender: MllpSender, scenarios: list[Scenario], stamp: str, rate: float,
              stop: threading.Event) -> int:
    """New results collected now for the patients whose sodium is stable: a live feed."""
    stable = [s for s in scenarios if s.story.startswith(("mild", "normal"))]
    accepted, n = 0, 100
    while stable and not stop.wait(rate):
        s = stable[n % len(stable)]
        last = next(x for x in reversed(s.samples) if x.analyte == "sodium")
        now = datetime.now(UTC)
        sample = Sample(0.0, last.value)
        accepted += ack_code(sender.send(oru(s, n, sample, now, now, stamp))) == "AA"
        n += 1
    return accepted


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
