"""Live events for the dashboards: 'these alerts changed'. In production they fan out
through Redis pub/sub (any API replica's stream sees any worker's change); embedded, they
go through an in-process hub."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

CHANNEL = "sodium:alerts"
log = logging.getLogger(__name__)


class LocalHub:
    """In-process fan-out to every open event stream (thread-safe publish)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = []

    def publish(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        with self._lock:
            for loop, queue in list(self._subscribers):
                loop.call_soon_threadsafe(queue.put_nowait, text)

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        with self._lock:
            self._subscribers.append((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        with self._lock:
            self._subscribers = [(lp, q) for lp, q in self._subscribers if q is not queue]


class RedisPublisher:
    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)

    def publish(self, payload: dict[str, Any]) -> None:
        try:
            self._client.publish(CHANNEL, json.dumps(payload))
        except Exception as error:  # a missed live event costs a refresh, never data
            log.warning("live event not published: %s", type(error).__name__)
