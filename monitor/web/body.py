"""Request bodies with a cap on their size: a feed cannot make the app hold an unbounded
payload in memory, nor store it in the inbox. And a NUL in a URL is refused before any route
(PostgreSQL cannot compare text with one)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from monitor.listener.mllp import MAX_MESSAGE_BYTES

# Every ingest body, as one message over MLLP: 1 MiB (POST /api/v1/hl7, /api/v1/results and
# the FHIR endpoints). A larger batch is sent as several posts, or loaded with `import`.
MAX_BODY_BYTES = MAX_MESSAGE_BYTES
MAX_RESULTS_BYTES = MAX_BODY_BYTES
MAX_HL7_BYTES = MAX_BODY_BYTES
HEAD_KEPT = 1024  # of an oversized body, what the reject row keeps


@dataclass(frozen=True)
class TooLarge:
    """A body over its cap: what was read of it, and the reason to give."""

    head: str
    reason: str


async def read_body(request: Request, limit: int) -> bytes | TooLarge:
    """The body, or TooLarge as soon as it (or its Content-Length) exceeds `limit` bytes."""
    reason = f"the body exceeds the {limit >> 20} MiB limit ({limit} bytes)"
    declared = request.headers.get("content-length", "")
    too_large = declared.isdigit() and int(declared) > limit
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        # Declared too large: read only the head the reject row keeps.
        if len(body) > limit or (too_large and len(body) >= HEAD_KEPT):
            too_large = True
            break
    if too_large:
        return TooLarge(body[:HEAD_KEPT].decode("utf-8", errors="replace"), reason)
    return bytes(body)


class RefuseNul:
    """ASGI middleware: a NUL byte in the path or the query string gets a 400."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_nul(scope):
            reply = JSONResponse({"detail": "the URL contains a NUL byte (%00)"}, 400)
            await reply(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _has_nul(scope: Scope) -> bool:
    query = bytes(scope.get("query_string", b"")).lower()
    return "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query
