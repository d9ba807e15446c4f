"""A webhook receiver that accepts the connection and never answers (a black hole) cannot
hold a sender past SODIUM_DELIVERY_TIMEOUT: the POST gives up with a timeout error, which
the outbox records as a failed attempt and retries later."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from monitor.config import Settings
from monitor.notify.sender import post_webhook


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A socket bound and listening, never accepted: the kernel completes the handshake
    from its backlog and nothing ever replies."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    sock.close()


def test_a_black_hole_webhook_times_out_with_the_configured_timeout(black_hole: str) -> None:
    settings = Settings(database_url="sqlite://", broker_url="",
                        delivery_connect_timeout=0.2, delivery_timeout=0.2)
    with pytest.raises(httpx.ReadTimeout):
        post_webhook(black_hole, b"{}", settings, headers={"Content-Type": "application/json"})


def test_delivery_timeouts_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SODIUM_DELIVERY_CONNECT_TIMEOUT", "1.5")
    monkeypatch.setenv("SODIUM_DELIVERY_TIMEOUT", "4")
    settings = Settings()
    assert settings.delivery_connect_timeout == 1.5 and settings.delivery_timeout == 4.0
