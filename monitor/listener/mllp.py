"""MLLP framing over asyncio: many connections, many messages per connection, frames split
across reads, a size cap, a frame timeout and caps on open connections (in all, per peer).

The timeout runs from the end of the last whole frame (or the connection's start): a frame
must be complete within `idle_timeout_s`, and bytes trickled in do not extend it, so a
sender cannot hold a connection with one byte every few minutes.

The listener only frames bytes; what to answer is the handler's business (it commits the
message to the inbox before it returns the acknowledgement).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from monitor.listener.limits import ConnectionGate

START, END = b"\x0b", b"\x1c\x0d"
log = logging.getLogger(__name__)

Handler = Callable[[bytes], Awaitable[bytes | list[bytes]]]  # each reply: one frame
MAX_MESSAGE_BYTES = 1 << 20  # 1 MiB: one HL7 message, over MLLP or POST /api/v1/hl7
HANDSHAKE_TIMEOUT_S = 30.0  # a TLS handshake not done by then is refused


@dataclass
class Limits:
    max_message_bytes: int = MAX_MESSAGE_BYTES
    idle_timeout_s: float = 300.0
    max_connections: int = 200
    max_connections_per_peer: int = 20


class MllpServer:
    def __init__(self, on_message: Handler, on_oversize: Handler,
                 on_garbage: Callable[[bytes], Awaitable[None]], limits: Limits | None = None,
                 tls: ssl.SSLContext | None = None,
                 on_refused: Callable[[str, str], Awaitable[None]] | None = None) -> None:
        self.on_message, self.on_oversize, self.on_garbage = on_message, on_oversize, on_garbage
        self.on_refused = on_refused  # (peer, reason): refused at accept or at TLS
        self.limits = limits or Limits()
        self.tls = tls
        self.gate = ConnectionGate(self.limits.max_connections,
                                   self.limits.max_connections_per_peer)

    @property
    def open_connections(self) -> int:
        return self.gate.open

    async def start(self, host: str, port: int) -> asyncio.Server:
        # TLS is begun per connection (_handshake), not by the server: a handshake that
        # fails (no certificate, another CA) is then seen here and kept as a reject row.
        return await asyncio.start_server(self._serve, host, port,
                                          limit=self.limits.max_message_bytes + 1024)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = writer.get_extra_info("peername")
        peer = str(address[0]) if isinstance(address, tuple) else str(address)
        refusal = self.gate.admit(peer)
        if refusal is not None:
            log.warning("MLLP connection from %s refused: %s", peer, refusal)
            writer.close()
            await self._record_refusal(peer, refusal)
            return
        try:
            if self.tls is not None and not await self._handshake(writer, peer):
                return
            self._connected(writer)
            await self._read_frames(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.gate.release(peer)
            writer.close()

    async def _handshake(self, writer: asyncio.StreamWriter, peer: str) -> bool:
        """TLS on the new connection; False (refused, kept as a reject row) when it fails."""
        assert self.tls is not None
        try:
            await writer.start_tls(self.tls, ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S)
            return True
        except (ssl.SSLError, ConnectionError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", None) or type(error).__name__
            log.warning("MLLP connection from %s refused: TLS handshake failed: %s", peer,
                        reason)
            await self._record_refusal(peer, f"TLS handshake failed ({reason})")
            return False

    def _connected(self, writer: asyncio.StreamWriter) -> None:
        """Called once the connection is set up (TLS done), before its first frame."""

    async def _record_refusal(self, peer: str, reason: str) -> None:
        """A connection refused before any frame: a reject row, at most one per peer a
        minute (ConnectionGate.to_record)."""
        count = self.gate.to_record(peer, asyncio.get_running_loop().time())
        if count is None or self.on_refused is None:
            return
        more = f" ({count} refusals since the last row)" if count > 1 else ""
        try:  # recording must never take the listener down
            await self.on_refused(peer, reason + more)
        except Exception:
            log.exception("could not store the refused connection's reject")

    async def _read_frames(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
        buffer = bytearray()
        skipping = False  # inside an oversized frame already answered: drop to its end
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.idle_timeout_s  # for the frame now arriving
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(65536),
                                               max(0.0, deadline - loop.time()))
            except TimeoutError:
                log.info("closing an MLLP connection: no whole frame within %.0f s",
                         self.limits.idle_timeout_s)
                return
            if not chunk:
                return
            buffer += chunk
            while buffer:
                if skipping:
                    end = buffer.find(END)
                    if end < 0:
                        del buffer[: max(0, len(buffer) - 1)]
                        break
                    del buffer[: end + 2]
                    skipping = False
                    continue
                start = buffer.find(START)
                if start != 0:
                    junk = bytes(buffer if start < 0 else buffer[:start])
                    del buffer[: len(junk)]
                    if junk.strip():
                        await self.on_garbage(junk)
                    continue
                end = buffer.find(END)
                if end < 0:
                    if len(buffer) > self.limits.max_message_bytes:
                        reply = await self.on_oversize(bytes(buffer[1:4096]))
                        await self._send(writer, reply)
                        skipping = True
                        del buffer[: max(0, len(buffer) - 1)]
                    break
                frame = bytes(buffer[1:end])
                del buffer[: end + 2]
                deadline = loop.time() + self.limits.idle_timeout_s
                if len(frame) > self.limits.max_message_bytes:
                    await self._send(writer, await self.on_oversize(frame[:4096]))
                    continue
                await self._send(writer, await self.on_message(frame))

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, reply: bytes | list[bytes]) -> None:
        for one in [reply] if isinstance(reply, bytes) else reply:
            writer.write(START + one + END)
        await writer.drain()
