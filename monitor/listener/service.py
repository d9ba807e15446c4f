"""The MLLP listener process: frames in, inbox commit, acknowledgement out, then enqueue."""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from datetime import UTC, datetime

from monitor.ingest import build_ack
from monitor.listener.mllp import Limits, MllpServer
from monitor.logs import request_id
from monitor.runtime import Runtime
from monitor.services.hl7_receive import receive_hl7
from monitor.services.inbox import reject_payload

log = logging.getLogger(__name__)
OVERSIZE = "message exceeds the 1 MiB limit"


def feed_name(text: str) -> str:
    """Result identity is unique per feed; an MLLP feed is named by its MSH-3."""
    head = text.lstrip()[:300]
    if head.startswith("MSH") and len(head) > 4:
        fields = head.split(head[3], 4)
        if len(fields) > 2 and fields[2]:
            return "hl7:" + fields[2].split(head[4] if len(head) > 4 else "^")[0][:80]
    return "hl7:unknown"


def build_server(rt: Runtime, limits: Limits | None = None,
                 tls: ssl.SSLContext | None = None) -> MllpServer:
    loop_run = asyncio.get_running_loop().run_in_executor

    async def on_message(frame: bytes) -> bytes:
        text = frame.decode("utf-8", errors="replace")
        request_id.set(uuid.uuid4().hex[:16])
        reply = await loop_run(None, lambda: receive_hl7(
            rt.uow, text, feed_name(text), rt.pipeline, datetime.now(UTC)))
        if reply.inbox_id is not None:
            loop_run(None, rt.dispatcher.process, reply.inbox_id)
        return reply.ack.encode()

    async def on_oversize(head: bytes) -> bytes:
        text = head.decode("utf-8", errors="replace")

        def store() -> None:
            try:
                with rt.uow() as uow:
                    reject_payload(uow, feed_name(text), "hl7", f"{feed_name(text)}: frame",
                                   OVERSIZE, text, datetime.now(UTC))
            except Exception:  # the AR goes out whatever happens to the reject row
                log.exception("could not store the oversize reject")

        await loop_run(None, store)
        return build_ack(text, "AR", OVERSIZE).encode()

    async def on_garbage(junk: bytes) -> None:
        text = junk[:4096].decode("utf-8", errors="replace")

        def store() -> None:
            try:
                with rt.uow() as uow:
                    reject_payload(uow, "hl7:unknown", "hl7", "bytes outside an MLLP frame",
                                   "not an MLLP frame (no 0x0B start byte)", text,
                                   datetime.now(UTC))
            except Exception:  # garbage must never take the connection down
                log.exception("could not store the garbage reject")

        await loop_run(None, store)

    return MllpServer(on_message, on_oversize, on_garbage, limits, tls)


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def serve(rt: Runtime, host: str, port: int, stop: asyncio.Event | None = None) -> None:
    server = await build_server(rt, tls=tls_context(rt.settings.mllp_tls_cert,
                                                    rt.settings.mllp_tls_key)).start(host, port)
    log.info("MLLP listener on %s:%s", host, port)
    async with server:
        if stop is None:
            await server.serve_forever()
        else:
            await stop.wait()
