"""Request bodies with a cap on their size: a feed cannot make the app hold an unbounded
payload in memory, nor store it in the inbox."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from monitor.listener.mllp import MAX_MESSAGE_BYTES

MAX_RESULTS_BYTES = 10 << 20  # POST /api/v1/results and the FHIR endpoints: 10 MiB
MAX_HL7_BYTES = MAX_MESSAGE_BYTES  # POST /api/v1/hl7: one message, as over MLLP (1 MiB)
HEAD_KEPT = 4096  # of an oversized body, what the reject row keeps


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
