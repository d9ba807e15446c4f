"""Receive a payload that arrived as a whole (import, retry, demo): parse it for its
patients and rejects, then commit it to the inbox like any live payload."""

from __future__ import annotations

from datetime import datetime

from monitor.services.intake.inbox import receive, screen
from monitor.services.intake.pipeline import Pipeline, parse_payload
from monitor.storage.uow import UnitOfWork


def receive_text(uow: UnitOfWork, fmt: str, feed: str, text: str, p: Pipeline,
                 now: datetime) -> int:
    payload = text.encode()
    items = screen(parse_payload(fmt, payload, feed, p), now, fmt)
    return receive(uow, fmt, feed, payload, now, items=items)
