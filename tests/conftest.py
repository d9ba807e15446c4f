"""Shared fixtures. The integration tier needs the real PostgreSQL and Redis; outside CI an
unreachable service skips that tier with one loud line, under CI=true it fails the run."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
DATA = Path(__file__).parent / "data"
# Under `pytest -n N` (pytest-xdist; `make test` runs two) each worker process gets a
# database and a Redis db of its own: gw0 the configured ones, gw1 "<name>_gw1" and the db
# number below, and so on, so that workers never empty each other's tables or queues.
XDIST_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


def _per_worker_database(url: str) -> str:
    if not XDIST_WORKER:
        return url
    base, _, name = url.rpartition("/")
    return f"{base}/{name}_gw{XDIST_WORKER}"


def _per_worker_redis(url: str) -> str:
    base, _, db = url.rpartition("/")
    number = int(db or 0) - XDIST_WORKER
    assert number >= 1, "never Redis db 0, and at most 15 test workers"
    return f"{base}/{number}"


TEST_DATABASE_URL = _per_worker_database(os.environ.get(
    "SODIUM_TEST_DATABASE_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/sodium_monitor_test",
))
TEST_REDIS_URL = _per_worker_redis(
    os.environ.get("SODIUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

_missing: dict[str, str] = {}


def service_missing(name: str, why: str) -> None:
    """Skip (outside CI) or fail (under CI) a test that needs an unreachable service."""
    _missing.setdefault(name, why)
    message = f"{name} is unreachable ({why}); the integration tier needs it"
    if IN_CI:
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for name, why in _missing.items():
        terminalreporter.write_line(
            f"!!! INTEGRATION TIER SKIPPED: {name} unreachable ({why}) !!!", red=True, bold=True
        )


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's .env or writes the embedded database in ./var."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("SODIUM_") and not key.startswith("SODIUM_TEST_"):
            monkeypatch.delenv(key)
    from monitor.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a thread of its own: the browser tests' Playwright (sync API) keeps
    an event loop running in the main thread for the rest of the session."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
