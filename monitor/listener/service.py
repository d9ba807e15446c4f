"""The MLLP listener process: frames in, inbox commit, acknowledgement out, then enqueue.

Frames that arrive together (within `window_s`, at most `max_group`) are committed in one
transaction, each acknowledged only once it is committed.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from monitor.listener.group import GroupCommit
from monitor.listener.mllp import MAX_MESSAGE_BYTES, Limits, MllpServer
from monitor.logs import request_id
from monitor.runtime import Runtime
from monitor.services.intake.hl7 import (
    Hl7Frame,
    Hl7Reply,
    commit_hl7,
    read_hl7_bytes,
    refused_frame,
)
from monitor.services.intake.inbox import FeedLiveness
from monitor.services.intake.pipeline import UNKNOWN_HL7_FEED

log = logging.getLogger(__name__)
OVERSIZE = f"message exceeds the {MAX_MESSAGE_BYTES >> 20} MiB limit"


def feed_name(text: str) -> str:
    """Result identity is unique per feed; an MLLP feed is named by its MSH-3."""
    head = text.lstrip()[:300]
    if head.startswith("MSH") and len(head) > 4:
        fields = head.split(head[3], 4)
        if len(fields) > 2 and fields[2]:
            return "hl7:" + fields[2].split(head[4] if len(head) > 4 else "^")[0][:80]
    return UNKNOWN_HL7_FEED


def build_server(rt: Runtime, limits: Limits | None = None,
                 tls: ssl.SSLContext | None = None, *, window_s: float = 0.005,
                 max_group: int = 64) -> MllpServer:
    liveness = FeedLiveness()  # feeds.last_message_at at most once a second per feed

    def commit(frames: Sequence[Hl7Frame]) -> list[Hl7Reply]:
        uow = rt.uow()
        # Committed: the workers may take the group now. The wake-up only raises a flag
        # (runtime/dispatchers.py: one thread sends, a circuit skips sends while the broker
        # fails), so neither the commit nor the ACK behind it waits on the broker.
        uow.on_commit(rt.dispatcher.process)
        return commit_hl7(uow, frames, datetime.now(UTC), liveness)

    group: GroupCommit[Hl7Frame, Hl7Reply] = GroupCommit(commit, window_s=window_s,
                                                         max_items=max_group)

    async def answer(frame: Hl7Frame) -> bytes:
        reply = await group.submit(frame)
        return reply.ack.encode()

    async def on_message(frame: bytes) -> list[bytes]:
        request_id.set(uuid.uuid4().hex[:16])
        # Parsed on the loop: it is pure CPU (the GIL would serialise it in a thread pool
        # anyway), and a thread hop per message cost more than it saved.
        frames = read_hl7_bytes(frame, feed_name, rt.pipeline, datetime.now(UTC))
        replies = await asyncio.gather(*(group.submit(f) for f in frames))
        return [ack.encode() for reply in replies for ack in reply.acks]

    async def on_oversize(head: bytes) -> bytes:
        text = head.decode("utf-8", errors="replace")
        feed = feed_name(text)
        return await answer(refused_frame(feed, f"{feed}: frame", OVERSIZE, text,
                                          datetime.now(UTC), answers=text))

    async def on_garbage(junk: bytes) -> None:
        text = junk[:4096].decode("utf-8", errors="replace")
        try:  # garbage must never take the connection down; nothing is answered
            await answer(refused_frame(UNKNOWN_HL7_FEED, "bytes outside an MLLP frame",
                                       "not an MLLP frame (no 0x0B start byte)", text,
                                       datetime.now(UTC), answers=None))
        except Exception:
            log.exception("could not store the garbage reject")

    return MllpServer(on_message, on_oversize, on_garbage, limits, tls)


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def serve(rt: Runtime, host: str, port: int, stop: asyncio.Event | None = None) -> None:
    settings = rt.settings
    limits = Limits(idle_timeout_s=settings.mllp_frame_timeout_s,
                    max_connections=settings.mllp_max_connections,
                    max_connections_per_peer=settings.mllp_max_connections_per_peer)
    server = await build_server(rt, limits, tls=tls_context(
        settings.mllp_tls_cert, settings.mllp_tls_key)).start(host, port)
    log.info("MLLP listener on %s:%s", host, port)
    async with server:
        if stop is None:
            await server.serve_forever()
        else:
            await stop.wait()
