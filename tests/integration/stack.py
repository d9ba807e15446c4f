"""Real processes for the integration tests: listener, API, Celery workers, scheduler.

Each is the `sodium-monitor` command a hospital runs, started as a subprocess against the
test PostgreSQL database and the test Redis db number.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CLI = str(Path(sys.executable).parent / "sodium-monitor")
MLLP_START, MLLP_END = b"\x0b", b"\x1c\x0d"


def interruptible() -> None:
    """A child's SIGINT as at a terminal (preexec_fn): a suite started in the background
    of a shell inherits SIGINT ignored, and Ctrl-C sent by a test would do nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float = 60, what: str = "condition",
             every: float = 0.2) -> None:
    """Poll until `predicate` holds; the timeout bounds a hang, it asserts no speed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Stack:
    database_url: str
    broker_url: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self, **more: str) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith("SODIUM_")}
        return {**keep, "SODIUM_DATABASE_URL": self.database_url,
                "SODIUM_BROKER_URL": self.broker_url, **self.extra_env, **more}

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{args[0]}-{len(self.processes)}.log").open("wb")
        proc = subprocess.Popen([CLI, *args], env=self.env(**env), cwd=self.workdir,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(proc)
        return proc

    def mllp(self, port: int | None = None, **env: str) -> int:
        port = port or free_port()
        self.start("mllp", "--port", str(port), **env)
        wait_for(lambda: port_open(port), 60, "the MLLP listener")
        return port

    def api(self, **env: str) -> str:
        port = free_port()
        self.start("api", "--port", str(port), **env)
        wait_for(lambda: port_open(port), 60, "the API")
        return f"http://127.0.0.1:{port}"

    def worker(self, concurrency: int = 2, queues: str = "", pool: str = "prefork",
               **env: str) -> subprocess.Popen[bytes]:
        """A worker on `queues` (default: every queue)."""
        return self.start("worker", "--concurrency", str(concurrency), "--queues", queues,
                          "--pool", pool, "--loglevel",
                          os.environ.get("SODIUM_TEST_WORKER_LOGLEVEL", "WARNING"), **env)

    def scheduler(self, **env: str) -> subprocess.Popen[bytes]:
        return self.start("scheduler", **env)

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:]
                         for p in sorted(self.workdir.glob("*.log")))

    def close(self) -> None:
        for proc in reversed(self.processes):
            self.stop(proc)


@contextmanager
def stack(database_url: str, broker_url: str, workdir: Path,
          **env: str) -> Iterator[Stack]:
    s = Stack(database_url, broker_url, workdir, dict(env))
    try:
        yield s
    finally:
        s.close()


class MllpConnection:
    """A plain MLLP client for the bad-input tests (the hl7 package's client frames only
    well-formed messages)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, message: str) -> str:
        self.send_raw(MLLP_START + message.encode() + MLLP_END)
        return self.reply()

    def reply(self) -> str:
        while MLLP_END not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("listener closed the connection")
            self.buffer += chunk
        frame, _, self.buffer = self.buffer.partition(MLLP_END)
        return frame.lstrip(MLLP_START).decode()

    def close(self) -> None:
        self.sock.close()


def ack_code(ack: str) -> tuple[str, str]:
    """(MSA-1, MSA-2) of an acknowledgement."""
    for segment in ack.replace("\n", "\r").split("\r"):
        if segment.startswith("MSA"):
            fields = segment.split("|")
            return fields[1], fields[2] if len(fields) > 2 else ""
    raise AssertionError(f"no MSA in {ack!r}")
