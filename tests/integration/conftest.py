"""Real PostgreSQL (a dedicated database) and Redis (a dedicated db number)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from monitor.config import Settings
from monitor.runtime import Runtime
from monitor.storage.base import Base
from monitor.storage.db import make_engine
from monitor.storage.migrate import upgrade
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, service_missing


def ensure_database(url: str) -> None:
    """Create the test database if it does not exist yet."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
            ).scalar()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


def reset_schema(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> str:
    try:
        ensure_database(TEST_DATABASE_URL)
    except Exception as error:  # any connection failure means the service is missing
        service_missing("PostgreSQL", f"{make_url(TEST_DATABASE_URL).render_as_string()}: "
                        f"{type(error).__name__}")
    return TEST_DATABASE_URL


@pytest.fixture(scope="session")
def pg_migrated(pg_url: str) -> str:
    reset_schema(pg_url)
    upgrade(pg_url)
    return pg_url


@pytest.fixture
def pg_engine(pg_migrated: str) -> Iterator[Engine]:
    """A migrated database, emptied before each test."""
    engine = make_engine(pg_migrated)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    for attempt in range(5):
        try:
            with engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            break
        except OperationalError as error:
            # The last writes of the previous test's processes or threads as they stop can
            # deadlock with the TRUNCATE; PostgreSQL aborts one side, so try again.
            if "deadlock" not in str(error) or attempt == 4:
                raise
            time.sleep(0.5)
    yield engine
    engine.dispose()


@pytest.fixture
def rt(pg_engine: Engine, pg_migrated: str) -> Iterator[Runtime]:
    """The embedded runtime (tasks in-process) on the emptied PostgreSQL test database;
    a module that needs another dispatcher defines its own `rt`."""
    runtime = Runtime(Settings(database_url=pg_migrated, broker_url=""))
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        service_missing("Redis", f"{TEST_REDIS_URL}: {type(error).__name__}")
    client.flushdb()
    yield TEST_REDIS_URL
    client.flushdb()
    client.close()
