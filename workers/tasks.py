"""Celery tasks: each a few lines that hand an id to a service."""

from __future__ import annotations

import redis

from workers.celery_app import app


@app.task(name="sodium.ping")
def ping(reply_key: str, reply_url: str) -> None:
    """Round trip for `sodium-monitor check` and the tests: writes a key back to Redis."""
    client = redis.Redis.from_url(reply_url)
    client.set(reply_key, "pong", ex=60)
    client.close()
