"""Redis and PostgreSQL outages: results are delayed, never lost, never acknowledged
without being stored."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from monitor.storage.tables import Result
from tests.hl7_builders import oru
from tests.integration.helpers import all_processed, count, inbox_states
from tests.integration.stack import MllpConnection, ack_code, free_port, stack, wait_for

START = datetime(2026, 9, 14, 8, tzinfo=UTC)


def messages(prefix: str, n: int) -> list[str]:
    return [oru(f"{prefix}{i % 5}", f"{prefix}-{i:03d}", START + timedelta(hours=i), 120 + i % 7)
            for i in range(n)]


class RedisServer:
    """Our own redis-server on another port: the machine's Redis is left alone."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (Debian package redis-server)")
        self.binary, self.port, self.workdir = binary, free_port(), workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        wait_for(lambda: _pings(client), 30, "our redis-server")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_redis_down_keeps_answering_aa_and_processes_everything_once_back(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path) -> None:
    own = RedisServer(tmp_path)
    own.start()
    fast = {"SODIUM_INBOX_SWEEP_AFTER": "PT2S", "SODIUM_SWEEP_INTERVAL": "PT1S"}
    try:
        with stack(pg_migrated, own.url, tmp_path, **fast) as s:
            port = s.mllp()
            s.worker(concurrency=1)
            s.scheduler()
            client = MllpConnection(port)
            batch = messages("R", 30)
            for m in batch[:10]:
                assert ack_code(client.send(m))[0] == "AA"
            wait_for(lambda: all_processed(pg_engine, 10), 60, "the first ten")
            own.stop()
            for m in batch[10:]:
                assert ack_code(client.send(m))[0] == "AA"  # stored, so accepted
            assert inbox_states(pg_engine).get("pending", 0) > 0
            own.start()
            wait_for(lambda: all_processed(pg_engine, 30), 120, "recovery", every=0.5)
            client.close()
        assert count(pg_engine, Result) == 30
    finally:
        own.stop()


class Proxy:
    """A TCP proxy in front of PostgreSQL that can be cut and restored on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self.server: socket.socket | None = None
        self.links: list[socket.socket] = []

    def start(self) -> None:
        self.server = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        threading.Thread(target=self._accept, args=(self.server,), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            # shutdown wakes the thread blocked in accept(); close alone would not.
            with suppress(OSError):
                self.server.shutdown(socket.SHUT_RDWR)
            self.server.close()
            self.server = None
        for link in self.links:
            with suppress(OSError):
                link.shutdown(socket.SHUT_RDWR)
            link.close()
        self.links = []

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            if self.server is not server:  # cut while this connection was arriving
                client.close()
                return
            upstream = socket.create_connection(self.target)
            self.links += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for end in (a, b):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


def test_postgres_unreachable_answers_ar_never_aa_and_a_resend_is_processed_once(
        pg_engine: Engine, pg_migrated: str, redis_url: str, tmp_path: Path) -> None:
    url = make_url(pg_migrated)
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        with stack(pg_migrated, redis_url, tmp_path) as s:
            port = s.mllp(SODIUM_DATABASE_URL=proxied)
            s.worker(concurrency=1)
            client = MllpConnection(port)
            first, second = messages("P", 2)
            assert ack_code(client.send(first))[0] == "AA"
            proxy.stop()
            code, control_id = ack_code(client.send(second))
            assert (code, control_id) == ("AR", "P-001F")
            proxy.start()
            assert ack_code(client.send(second))[0] == "AA"
            assert ack_code(client.send(second))[0] == "AA"  # a duplicate resend
            client.close()
            wait_for(lambda: all_processed(pg_engine, 3), 60, "the worker")
        assert count(pg_engine, Result) == 2  # the resent duplicate changed nothing
    finally:
        proxy.stop()
