"""The MLLP intake rate with the broker up and with it down (issue 13, finding 5).

    PYTHONPATH=. .venv/bin/python bench/broker_outage.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/sm_bench [--messages 2000]

In one process: the listener (build_server, group commit) on a free port, its broker our own
redis-server on a free port (never the machine's), K connections each sending its share
of N ORU^R01 messages as fast as the ACKs come back. Phase "up": Redis running; phase
"down": Redis stopped (every wake-up fails or is skipped by the circuit). Prints ACKs/s and
the count of ACKs per phase. The database's tables are truncated first: use a scratch one.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

import monitor.storage.tables  # noqa: F401  (registers the tables)
from monitor.config import Settings
from monitor.listener.service import build_server
from monitor.runtime import Runtime
from monitor.runtime.dispatchers import CeleryDispatcher
from monitor.storage.base import Base

START, END = b"\x0b", b"\x1c\x0d"


def oru(n: int, phase: str) -> bytes:
    at = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n)).strftime("%Y%m%d%H%M")
    order = f"{phase}{n:06d}"
    return "\r".join([
        f"MSH|^~\\&|LIS|H|SM|H|{at}||ORU^R01^ORU_R01|{order}|P|2.5.1",
        f"PID|1||B{n % 50}^^^H^MR||DOE^A", "PV1|1|I|MED4^1^1",
        f"OBR|1|O{order}|{order}|80048^BMP^C4|||{at}",
        f"OBX|1|NM|2951-2^Sodium^LN||{120 + n % 9}|mmol/L|||||F|||{at}"]).encode()


async def client(port: int, frames: list[bytes]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    acks = 0
    for frame in frames:
        writer.write(START + frame + END)
        await writer.drain()
        acks += b"MSA|AA|" in await reader.readuntil(END)
    writer.close()
    return acks


async def phase(rt: Runtime, name: str, n: int, k: int) -> tuple[int, float]:
    server = await build_server(rt).start("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    frames = [oru(i, name) for i in range(n)]
    async with server:
        began = time.perf_counter()
        acks = sum(await asyncio.gather(*(client(port, frames[j::k]) for j in range(k))))
        return acks, time.perf_counter() - began


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--break-s", type=float, default=None,
                        help="the circuit's break (0: try every send, as before issue 13)")
    args = parser.parse_args()
    port = free_port()
    binary = shutil.which("redis-server") or "redis-server"
    redis = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    rt = Runtime(Settings(database_url=args.database_url,
                          broker_url=f"redis://127.0.0.1:{port}/0"))
    if args.break_s is not None:
        dispatcher = rt.dispatcher
        assert isinstance(dispatcher, CeleryDispatcher)
        dispatcher.break_s = args.break_s
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with rt.engine.begin() as c:
        c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    try:
        for name in ("up", "down"):
            if name == "down":
                redis.terminate()
                redis.wait(10)
            acks, seconds = asyncio.run(phase(rt, name, args.messages, args.connections))
            dispatcher = rt.dispatcher
            assert isinstance(dispatcher, CeleryDispatcher)
            print(f"broker {name}: {acks}/{args.messages} AA in {seconds:.1f} s = "
                  f"{acks / seconds:.0f} ACKs/s (sends tried {dispatcher.attempts}, "
                  f"skipped {dispatcher.skipped})")
    finally:
        if redis.poll() is None:
            redis.terminate()
        rt.engine.dispose()


if __name__ == "__main__":
    main()
