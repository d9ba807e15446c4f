"""Readiness of what the service depends on, each reported on its own."""

from __future__ import annotations

from sqlalchemy import text

from monitor.runtime import Runtime


def database_status(rt: Runtime) -> str:
    try:
        with rt.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # readiness reports any failure, it never raises
        return f"down: {type(error).__name__}"
    return "ok"


def broker_status(rt: Runtime) -> str:
    url = rt.settings.broker_url
    if not url:
        return "in-process"
    if not url.startswith(("redis://", "rediss://")):
        return "unchecked"
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError as error:
        return f"down: {type(error).__name__}"
    return "ok"
