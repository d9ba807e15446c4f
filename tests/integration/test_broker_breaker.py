"""Intake off the broker's fate (issue 13, finding 5): with our own Redis stopped under
load, every message is still acknowledged and stored, no enqueue is tried while the
circuit is open (so none can hold up an ACK), and once Redis is back the sweeper's wake-up
reaches the broker and the rows are processed."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from monitor.config import Settings
from monitor.listener.service import build_server
from monitor.runtime import Runtime
from monitor.runtime.dispatchers import CeleryDispatcher
from monitor.runtime.drain import drain_inbox
from monitor.scheduling.jobs import sweep_inbox
from monitor.storage.tables import InboxItem, Result
from tests.conftest import run_async
from tests.hl7_builders import oru
from tests.integration.helpers import all_processed, count
from tests.integration.stack import MLLP_END, MLLP_START, ack_code
from tests.integration.test_outages import RedisServer

START = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None and not os.environ.get("CI"):
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def messages(prefix: str, n: int) -> list[str]:
    return [oru(f"{prefix}{i % 7}", f"{prefix}-{i:03d}", START + timedelta(minutes=i), 125)
            for i in range(n)]


async def _client(port: int, batch: list[str], seen: list[bool]) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    codes = []
    for message in batch:
        writer.write(MLLP_START + message.encode() + MLLP_END)
        await writer.drain()
        reply = (await reader.readuntil(MLLP_END)).strip(MLLP_START + MLLP_END).decode()
        codes.append(ack_code(reply)[0])
        seen.append(True)
    writer.close()
    return codes


def exchange(rt: Runtime, batch: list[str], connections: int,
             during: list[bool] | None = None) -> list[str]:
    """Send `batch` over `connections` connections at once; the MSA-1 of every reply.
    `during` records, at each ACK, whether the enqueue circuit was open."""
    dispatcher = rt.dispatcher
    assert isinstance(dispatcher, CeleryDispatcher)

    async def run() -> list[str]:
        server = await build_server(rt).start("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        seen: list[bool] = []
        async with server:
            parts = [batch[k::connections] for k in range(connections)]
            codes = await asyncio.gather(*(_client(port, p, seen) for p in parts))
        if during is not None:
            during.append(dispatcher.circuit_open)
        return [c for part in codes for c in part]

    return run_async(run())


def test_redis_down_every_message_acked_and_stored_and_swept_once_back(
        pg_engine: Engine, pg_migrated: str, own_redis: RedisServer) -> None:
    rt = Runtime(Settings(database_url=pg_migrated, broker_url=own_redis.url,
                          inbox_sweep_after="PT0S"))
    dispatcher = rt.dispatcher
    assert isinstance(dispatcher, CeleryDispatcher)
    dispatcher.break_s = 3600  # the circuit stays open for the whole outage
    broker = redis.Redis.from_url(own_redis.url)
    try:
        assert exchange(rt, messages("U", 10), connections=2) == ["AA"] * 10
        time.sleep(0.1)  # the waker sends the wake-up
        assert broker.llen("celery") >= 1 and dispatcher.attempts >= 1

        own_redis.stop()
        dispatcher.process()  # the first wake-up after the outage fails and opens it
        while not dispatcher.circuit_open:
            time.sleep(0.05)
        attempts = dispatcher.attempts
        during: list[bool] = []
        codes = exchange(rt, messages("D", 120), connections=8, during=during)
        assert codes == ["AA"] * 120  # counted, not timed: every message was answered
        assert during == [True]
        assert dispatcher.attempts == attempts  # no send was tried while it was open
        assert count(pg_engine, InboxItem) == 130  # nothing lost

        own_redis.start()
        dispatcher.break_s = 0.0
        dispatcher._open_until = 0.0  # the break is over: as after break_s
        assert sweep_inbox(rt) > 0
        time.sleep(0.2)
        assert redis.Redis.from_url(own_redis.url).llen("celery") >= 1  # the wake-up arrived
        drain_inbox(rt)  # what the woken worker runs
        assert all_processed(pg_engine, 130)
        assert count(pg_engine, Result) == 130
    finally:
        rt.engine.dispose()
