"""The listener's connection caps and frame timeout, over real sockets."""

from __future__ import annotations

import asyncio

from monitor.listener.limits import ConnectionGate
from monitor.listener.mllp import END, START, Limits, MllpServer
from tests.conftest import run_async


async def _echo(frame: bytes) -> bytes:
    return b"ACK " + frame


async def _ignore(junk: bytes) -> None:
    return None


async def _server(limits: Limits) -> tuple[MllpServer, asyncio.Server, int]:
    mllp = MllpServer(_echo, _echo, _ignore, limits)
    server = await mllp.start("127.0.0.1", 0)
    return mllp, server, server.sockets[0].getsockname()[1]


async def _exchange(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(START + payload + END)
    await writer.drain()
    reply = await asyncio.wait_for(reader.readuntil(END), 10)
    writer.close()
    return reply


def test_gate_counts_per_peer_and_in_all() -> None:
    gate = ConnectionGate(max_connections=3, max_per_peer=2)
    assert gate.admit("10.0.0.1") is None
    assert gate.admit("10.0.0.1") is None
    assert "from 10.0.0.1" in (gate.admit("10.0.0.1") or "")
    assert gate.admit("10.0.0.2") is None
    assert "3 connections already open" in (gate.admit("10.0.0.3") or "")
    gate.release("10.0.0.1")
    assert gate.admit("10.0.0.3") is None
    assert gate.by_peer == {"10.0.0.1": 1, "10.0.0.2": 1, "10.0.0.3": 1}


def test_a_peer_over_its_share_is_refused_and_its_open_connections_keep_working() -> None:
    async def scenario() -> None:
        mllp, server, port = await _server(Limits(max_connections_per_peer=2))
        async with server:
            held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
            await asyncio.sleep(0.05)
            reader, _ = await asyncio.open_connection("127.0.0.1", port)
            assert await asyncio.wait_for(reader.read(), 10) == b""  # closed at accept
            assert mllp.open_connections == 2
            r, w = held[0]
            w.write(START + b"MSH|one" + END)
            await w.drain()
            assert await asyncio.wait_for(r.readuntil(END), 10) == START + b"ACK MSH|one" + END
            for _, w in held:
                w.close()
            await asyncio.sleep(0.05)
            assert mllp.open_connections == 0
            assert await _exchange(port, b"MSH|two") == START + b"ACK MSH|two" + END

    run_async(scenario())


def test_trickled_bytes_do_not_extend_the_frame_timeout() -> None:
    async def scenario() -> None:
        mllp, server, port = await _server(Limits(idle_timeout_s=0.5))
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(START)
            closed_after = None
            for sent in range(40):  # a byte every 0.1 s: each read is well within 0.5 s
                await asyncio.sleep(0.1)
                try:
                    writer.write(b"M")
                    await writer.drain()
                except ConnectionError:
                    closed_after = sent
                    break
                if reader.at_eof():
                    closed_after = sent
                    break
                try:
                    if await asyncio.wait_for(reader.read(1), 0.01) == b"":
                        closed_after = sent
                        break
                except TimeoutError:
                    pass
            assert closed_after is not None, "the trickling connection was never closed"
            assert mllp.open_connections == 0
            writer.close()

    run_async(scenario())


def test_whole_frames_keep_a_connection_open_past_the_timeout() -> None:
    async def scenario() -> None:
        _, server, port = await _server(Limits(idle_timeout_s=0.5))
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for n in range(4):  # 4 frames 0.3 s apart: 1.2 s in all, each frame in time
                await asyncio.sleep(0.3)
                writer.write(START + b"MSH|%d" % n + END)
                await writer.drain()
                assert await asyncio.wait_for(reader.readuntil(END), 10)
            writer.close()

    run_async(scenario())


def test_a_refused_peer_is_recorded_at_most_once_a_minute_with_the_count_since() -> None:
    gate = ConnectionGate(max_connections=3, max_per_peer=1)
    assert gate.to_record("10.0.0.1", 100.0) == 1
    assert gate.to_record("10.0.0.1", 110.0) is None
    assert gate.to_record("10.0.0.2", 110.0) == 1  # per peer
    assert gate.to_record("10.0.0.1", 159.0) is None
    assert gate.to_record("10.0.0.1", 161.0) == 3  # the two held back and this one


def test_many_refused_addresses_do_not_grow_the_gate_without_end() -> None:
    from monitor.listener.limits import PEERS_KEPT

    gate = ConnectionGate(max_connections=3, max_per_peer=1)
    for n in range(PEERS_KEPT + 10):
        assert gate.to_record(f"10.1.{n // 256}.{n % 256}", 0.0) == 1
    assert gate.to_record("10.9.9.9", 61.0) == 1  # the quiet ones are forgotten
    assert len(gate._recorded_at) == 1
