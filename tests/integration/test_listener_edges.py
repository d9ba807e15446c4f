"""What a sender sees at the listener's edges (issue 13, finding 8), on PostgreSQL: the ACKs
and their ERR segments, and the reject row kept for each refusal."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.listener.mllp import Limits
from monitor.listener.service import build_server
from monitor.runtime import Runtime
from monitor.storage.tables import InboxItem, RejectRow
from tests.conftest import run_async
from tests.hl7_builders import oru
from tests.integration.helpers import count, reject_reasons
from tests.integration.stack import MLLP_END, MLLP_START

START = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


def talk(rt: Runtime, frames: list[tuple[bytes, int]]) -> list[list[str]]:
    """Send each frame on one connection and read the number of replies it should get."""
    async def run() -> list[list[str]]:
        server = await build_server(rt).start("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        out = []
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for payload, replies in frames:
                writer.write(MLLP_START + payload + MLLP_END)
                await writer.drain()
                out.append([(await asyncio.wait_for(reader.readuntil(MLLP_END), 30))
                            .strip(MLLP_START + MLLP_END).decode() for _ in range(replies)])
            writer.close()
        return out

    return run_async(run())


def segment(ack: str, name: str) -> list[str]:
    return next(s for s in ack.split("\r") if s.startswith(name)).split("|")


def message(order: str, head_extra: str = "", patient: str = "E1") -> str:
    text = oru(patient, order, START, 131)
    head, _, rest = text.partition("\r")
    return head + head_extra + "\r" + rest


def test_two_messages_in_one_frame_each_get_their_own_ar_and_reject_row(
        rt: Runtime, pg_engine: Engine) -> None:
    first, second = message("M-1"), message("M-2")
    (acks,) = talk(rt, [((first + "\r" + second).encode(), 2)])

    assert [segment(a, "MSA")[1:3] for a in acks] == [["AR", "M-1F"], ["AR", "M-2F"]]
    err = segment(acks[1], "ERR")
    assert err[2:5] == ["MSH^2", "100^Segment sequence error^HL70357", "E"]
    assert err[8] == "2 messages in one MLLP frame; send one message per frame (message 2 of 2)"
    assert len(reject_reasons(pg_engine)) == 2 and count(pg_engine, InboxItem) == 0
    # Resent one per frame, both are taken.
    replies = talk(rt, [(first.encode(), 1), (second.encode(), 1)])
    assert [segment(r[0], "MSA")[1] for r in replies] == ["AA", "AA"]


def test_an_oru_with_only_msh_gets_ae_and_a_reject_row(rt: Runtime, pg_engine: Engine) -> None:
    head = message("H-1").split("\r")[0]
    ((ack,),) = talk(rt, [(head.encode(), 1)])

    assert segment(ack, "MSA")[1:3] == ["AE", "H-1F"]
    assert segment(ack, "ERR")[2:4] == ["OBX^1", "100^Segment sequence error^HL70357"]
    assert reject_reasons(pg_engine) == [
        "ORU^R01 without an OBX segment: no result in the message"]
    assert count(pg_engine, InboxItem) == 0


def test_latin_1_declared_in_msh_18_is_stored_as_sent(rt: Runtime, pg_engine: Engine) -> None:
    text = message("L-1", "||||||8859/1").replace("DOE^ALEX", "M\u00dcLLER^J\u00d6RG")
    ((ack,),) = talk(rt, [(text.encode("latin-1"), 1)])

    assert segment(ack, "MSA")[1] == "AA"
    with Session(pg_engine) as s:
        (payload,) = s.scalars(select(InboxItem.payload))
    assert "M\u00dcLLER^J\u00d6RG" in payload.decode()


def test_undeclared_latin_1_bytes_are_refused_not_replaced(
        rt: Runtime, pg_engine: Engine) -> None:
    text = message("L-2").replace("DOE^ALEX", "M\u00dcLLER^ALEX")
    ((ack,),) = talk(rt, [(text.encode("latin-1"), 1)])

    assert segment(ack, "MSA")[1:3] == ["AE", "L-2F"]
    err = segment(ack, "ERR")
    assert err[2:5] == ["MSH^1^18", "102^Data type error^HL70357", "E"]
    assert "byte 0xDC" in err[8] and "UTF-8" in err[8]
    (reason,) = reject_reasons(pg_engine)
    assert "byte 0xDC" in reason
    assert count(pg_engine, InboxItem) == 0


def test_an_unknown_character_set_gets_ar_103(rt: Runtime, pg_engine: Engine) -> None:
    ((ack,),) = talk(rt, [(message("L-3", "||||||8859/7").encode(), 1)])

    assert segment(ack, "MSA")[1] == "AR"
    assert segment(ack, "ERR")[2:4] == ["MSH^1^18", "103^Table value not found^HL70357"]
    assert len(reject_reasons(pg_engine)) == 1


def test_enhanced_mode_sends_the_acks_msh_15_and_16_ask_for(
        rt: Runtime, pg_engine: Engine) -> None:
    replies = talk(rt, [
        (message("N-1", "|||AL|AL").encode(), 2),  # accept ACK, then application ACK
        (message("N-2", "|||ER|ER").encode(), 0),  # success: nothing is sent...
        (message("N-3", "|||NE|AL").encode(), 1),  # ...so the next reply is N-3's
        (message("N-4", "|||AL|AL", patient="").encode(), 1),  # refused at accept: CE only
    ])

    assert [[segment(a, "MSA")[1:3] for a in r] for r in replies] == [
        [["CA", "N-1F"], ["AA", "N-1F"]], [], [["AA", "N-3F"]], [["CE", "N-4F"]]]
    assert count(pg_engine, InboxItem) == 3


def test_a_message_whose_every_result_is_unusable_gets_ae_102(
        rt: Runtime, pg_engine: Engine) -> None:
    text = oru("E2", "V-1", START, "high")  # OBX-5 of an NM value is not a number
    ((ack,),) = talk(rt, [(text.encode(), 1)])

    assert segment(ack, "MSA")[1:3] == ["AE", "V-1F"]
    assert segment(ack, "ERR")[3:5] == ["102^Data type error^HL70357", "E"]
    (reason,) = reject_reasons(pg_engine)
    assert reason.startswith("no usable result: ")


def test_a_connection_over_the_peers_share_is_closed_and_kept_as_a_reject_row(
        rt: Runtime, pg_engine: Engine) -> None:
    async def run() -> None:
        server = await build_server(rt, Limits(max_connections_per_peer=1)).start(
            "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            held = await asyncio.open_connection("127.0.0.1", port)
            await asyncio.sleep(0.05)
            for _ in range(3):  # refused at accept, each; one reject row for the minute
                reader, _ = await asyncio.open_connection("127.0.0.1", port)
                assert await asyncio.wait_for(reader.read(), 10) == b""
            await asyncio.sleep(0.2)
            held[1].close()

    run_async(run())
    reasons = reject_reasons(pg_engine)
    assert reasons == ["connection refused: 1 connections already open from 127.0.0.1 "
                       "(SODIUM_MLLP_MAX_CONNECTIONS_PER_PEER)"]
    with Session(pg_engine) as db:
        row = db.scalars(select(RejectRow)).one()
    assert row.position == "MLLP connection from 127.0.0.1"
