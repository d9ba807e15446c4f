"""The listener's group commit on PostgreSQL: frames that arrive together share one
transaction (the rows' xmin), each is acknowledged only once it is committed, a frame
refused on content keeps its reject row, and a failed commit answers AR to every frame."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from monitor.config import Settings
from monitor.listener.service import build_server
from monitor.runtime import Runtime
from monitor.runtime.drain import drain_inbox
from tests.conftest import run_async
from tests.hl7_builders import oru
from tests.integration.helpers import alerts, all_processed
from tests.integration.stack import MLLP_END, MLLP_START, ack_code, free_port, wait_for

START = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


async def send(port: int, message: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(MLLP_START + message.encode() + MLLP_END)
    await writer.drain()
    reply = await reader.readuntil(MLLP_END)
    writer.close()
    return reply.strip(MLLP_START + MLLP_END).decode()


def exchange(rt: Runtime, messages: list[str], group: int) -> list[tuple[str, str]]:
    """Send every message on its own connection at once; a group is committed only when
    `group` frames wait (the window is long), so the grouping does not depend on speed."""
    async def run() -> list[str]:
        server = await build_server(rt, window_s=3600, max_group=group).start("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await asyncio.gather(*(send(port, m) for m in messages))

    return [ack_code(ack) for ack in run_async(run())]


def xmins(engine: Engine, table: str) -> set[str]:
    with engine.connect() as c:
        return {str(x) for x in c.execute(text(f"SELECT xmin FROM {table}")).scalars()}


class Held:
    """A dispatcher that keeps the wake-ups: the rows stay as the listener wrote them until
    the test drains the inbox (a worker's claim rewrites them, and so their xmin)."""

    def __init__(self) -> None:
        self.woken: list[int | None] = []

    def process(self, inbox_id: int | None = None) -> None:
        self.woken.append(inbox_id)

    def deliver(self, delivery_id: int) -> None:
        pass


def test_frames_arriving_together_share_one_transaction(pg_engine: Engine,
                                                        pg_migrated: str) -> None:
    held = Held()
    rt = Runtime(Settings(database_url=pg_migrated, broker_url=""), _dispatcher=held)
    messages = [
        oru("GRP001", "G-1", START, 120, control_id="C1"),
        oru("GRP002", "G-2", START, 121, control_id="C2"),
        oru("GRP003", "G-3", START, 122, ward="W" * 70, control_id="C3"),  # AE: cannot store
        oru("GRP004", "G-4", START, 123, message_type="ORM^O01", control_id="C4"),  # AR
    ]
    replies = exchange(rt, messages, group=4)
    assert sorted(replies) == [("AA", "C1"), ("AA", "C2"), ("AE", "C3"), ("AR", "C4")]
    inbox, rejects = xmins(pg_engine, "inbox"), xmins(pg_engine, "rejects")
    assert len(inbox) == 1 and rejects == inbox  # one transaction for the whole group
    with pg_engine.connect() as c:
        reasons = list(c.execute(text("SELECT reason FROM rejects ORDER BY id")).scalars())
        feeds = c.execute(text("SELECT name, last_message_at FROM feeds")).all()
    assert len(reasons) == 2 and any("at most 64 are stored" in r for r in reasons)
    assert [name for name, at in feeds if at is not None] == ["hl7:LIS"]
    assert held.woken == [None]  # one wake-up for the group, after its commit
    drain_inbox(rt)
    assert all_processed(pg_engine, 2)
    rt.engine.dispose()


def test_the_patient_goes_on_after_a_refused_frame(rt: Runtime, pg_engine: Engine) -> None:
    first = exchange(rt, [oru("GRP010", "P-1", START, 120, control_id="P1")], group=1)
    bad = oru("GRP010", "P-2", START + timedelta(hours=5), 128, control_id="P2")
    second = exchange(rt, [bad.replace("^0412^01^", "^0412^" + "B" * 60 + "^"),
                           oru("GRP010", "P-3", START + timedelta(hours=10), 132,
                               control_id="P3")], group=2)
    assert first == [("AA", "P1")] and sorted(second) == [("AA", "P3"), ("AE", "P2")]
    wait_for(lambda: all_processed(pg_engine, 2), 60, "the good results")
    assert "OVERCORRECTION_24H" in {a["rule"] for a in alerts(pg_engine, "active")}


def test_a_failed_commit_answers_ar_to_every_frame_of_the_group(pg_engine: Engine) -> None:
    down = Runtime(Settings(database_url=f"postgresql+psycopg://postgres@127.0.0.1:"
                            f"{free_port()}/nowhere", broker_url=""))
    try:
        replies = exchange(down, [oru("GRP020", "F-1", START, 120, control_id="F1"),
                                  oru("GRP021", "F-2", START, 121, ward="W" * 70,
                                      control_id="F2")], group=2)
    finally:
        down.engine.dispose()
    assert sorted(replies) == [("AR", "F1"), ("AR", "F2")]
