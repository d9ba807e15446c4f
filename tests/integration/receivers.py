"""Real receivers on loopback: an HTTP webhook endpoint and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.integration.stack import free_port


@dataclass
class Hook:
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class WebhookReceiver:
    """Answers 500 to the first `fail_first` requests of each idempotency key, then 200;
    records every request."""

    fail_first: int = 0
    received: list[Hook] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                key = self.headers.get("Idempotency-Key", "")
                with receiver.lock:
                    receiver.received.append(Hook(body, dict(self.headers.items())))
                    tries = sum(1 for h in receiver.received
                                if h.headers.get("Idempotency-Key") == key)
                    failing = tries <= receiver.fail_first
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def events(self, event: str | None = None) -> list[Hook]:
        with self.lock:
            return [h for h in self.received if event is None or h.json["event"] == event]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


class SmtpReceiver:
    def __init__(self) -> None:
        self.handler = _Inbox()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def messages(self) -> list[tuple[str, list[str], bytes]]:
        return list(self.handler.messages)

    def close(self) -> None:
        self.controller.stop()
