"""The MLLP listener process: frames in, inbox commit, acknowledgement out, then enqueue.

Frames that arrive together (within `window_s`, at most `max_group`) are committed in one
transaction, each acknowledged only once it is committed.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from monitor.ingest import Hl7Outcome
from monitor.listener import auth
from monitor.listener.group import GroupCommit
from monitor.listener.mllp import MAX_MESSAGE_BYTES, Limits, MllpServer
from monitor.logs import request_id
from monitor.runtime import Runtime
from monitor.services.intake.feeds import Binding, feed_bindings
from monitor.services.intake.hl7 import (
    Hl7Frame,
    Hl7Reply,
    commit_hl7,
    read_hl7,
    read_hl7_bytes,
    refused_frame,
)
from monitor.services.intake.inbox import FeedLiveness
from monitor.services.intake.pipeline import UNAUTHENTICATED, UNKNOWN_HL7_FEED

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

    server: auth.AuthenticatedServer | None = None
    group: GroupCommit[Hl7Frame, Hl7Reply] = GroupCommit(
        commit, window_s=window_s, max_items=max_group,
        company=lambda: server.open_connections if server is not None else max_group)
    bindings = _Bindings(rt, open_mode=not rt.settings.mllp_tls_client_ca)

    async def answer(frame: Hl7Frame) -> list[bytes]:
        reply = await group.submit(frame)
        return [ack.encode() for ack in reply.acks]

    def permitted(binding: Binding, frame: Hl7Frame, text: str, now: datetime) -> Hl7Frame:
        """A message that needs a permission its feed lacks is refused (AR / CR)."""
        if not (isinstance(frame.answers, Hl7Outcome) and frame.code[1] == "A"):
            return frame
        refusal = auth.missing(binding, frame.answers)
        if not refusal:
            return frame
        where = f"{binding.name} (MSH-10 {frame.answers.control_id or '?'})"
        return refused_frame(binding.name, where, refusal, text, now, answers=frame.answers,
                             code=frame.code[0] + "R")

    async def on_message(frame: bytes) -> list[bytes]:
        request_id.set(uuid.uuid4().hex[:16])
        now = datetime.now(UTC)
        try:
            known = await bindings.get()
        except SQLAlchemyError as error:  # who sends cannot be told: the sender resends
            log.error("feeds unavailable, answering AR: %s", type(error).__name__)
            text = frame.decode("utf-8", errors="replace")
            return [read_hl7(text, feed_name(text), rt.pipeline, now).cannot_store()
                    .ack.encode()]
        binding = None if known is None else auth.identify(auth.peer(), known)
        if known is not None and binding is None:
            text = frame.decode("utf-8", errors="replace")
            peer = auth.peer()  # MSH-3 names no one: kept only as information
            where = f"MLLP connection from {peer.ip or '?'} (MSH-3 {feed_name(text)[4:]})"
            return await answer(refused_frame(UNAUTHENTICATED, where,
                                              auth.unknown_sender(peer), text, now,
                                              answers=text))
        # Parsed on the loop: it is pure CPU (the GIL would serialise it in a thread pool
        # anyway), and a thread hop per message cost more than it saved.
        frames = read_hl7_bytes(frame, feed_name if binding is None
                                else (lambda _text: binding.name), rt.pipeline, now)
        if binding is not None:
            text = frame.decode("utf-8", errors="replace")
            frames = [permitted(binding, f, text, now) for f in frames]
        replies = await asyncio.gather(*(group.submit(f) for f in frames))
        return [ack.encode() for reply in replies for ack in reply.acks]

    async def on_oversize(head: bytes) -> list[bytes]:
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

    async def on_refused(peer: str, reason: str) -> None:
        await answer(refused_frame(UNKNOWN_HL7_FEED, f"MLLP connection from {peer}",
                                   f"connection refused: {reason}", "", datetime.now(UTC),
                                   answers=None))

    server = auth.AuthenticatedServer(on_message, on_oversize, on_garbage, limits, tls,
                                      on_refused)
    return server


class _Bindings:
    """The bound feeds, read again at most every few seconds (`feeds add` takes effect
    without a restart). None: open mode, no client CA and no bound feed."""

    def __init__(self, rt: Runtime, *, open_mode: bool, every_s: float = 5.0) -> None:
        self._rt, self._open_mode, self._every_s = rt, open_mode, every_s
        self._known: list[Binding] = []
        self._read_at: float | None = None

    async def get(self) -> list[Binding] | None:
        if self._read_at is None or time.monotonic() - self._read_at > self._every_s:
            loop = asyncio.get_running_loop()
            try:
                self._known = await loop.run_in_executor(None, feed_bindings, self._rt.uow())
            except SQLAlchemyError:
                if self._read_at is None:
                    raise
                log.warning("feeds unavailable, keeping the bindings last read")
            self._read_at = time.monotonic()
        return None if self._open_mode and not self._known else self._known


class InsecureBind(RuntimeError):
    pass


def tls_context(cert: str | None, key: str | None,
                client_ca: str | None = None) -> ssl.SSLContext | None:
    return auth.tls_context(cert, key, client_ca)


async def serve(rt: Runtime, host: str, port: int, stop: asyncio.Event | None = None, *,
                insecure: bool = False) -> None:
    s = rt.settings
    refusal = auth.bind_refusal(host, s.mllp_tls_client_ca, feed_bindings(rt.uow()))
    if refusal and not (insecure or s.mllp_insecure):
        raise InsecureBind(refusal)
    if refusal:
        log.warning("MLLP listener on %s without feed authentication (--insecure)", host)
    tls = tls_context(s.mllp_tls_cert, s.mllp_tls_key, s.mllp_tls_client_ca)
    limits = Limits(idle_timeout_s=s.mllp_frame_timeout_s,
                    max_connections=s.mllp_max_connections,
                    max_connections_per_peer=s.mllp_max_connections_per_peer)
    server = await build_server(rt, limits, tls=tls).start(host, port)
    log.info("MLLP listener on %s:%s", host, port)
    async with server:
        if stop is None:
            await server.serve_forever()
        else:
            await stop.wait()
