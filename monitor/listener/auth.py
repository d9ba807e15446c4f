"""Who is on the other end of an MLLP connection, and what that feed may change.

A feed is named by the connection: the client certificate's CN or DNS SAN (TLS with
SODIUM_MLLP_TLS_CLIENT_CA), else the peer address in a feed's allow-list. MSH-3 is only
information. Open mode (no client CA and no bound feed) keeps the old behaviour: any
peer, named by MSH-3, may do everything; binding a non-loopback address that way is
refused unless it is meant (`--insecure`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from monitor.engine.model import ResultStatus
from monitor.ingest import Hl7Outcome
from monitor.ingest.events import MergeEvent, PatientEvent, ResultEvent
from monitor.listener.mllp import MllpServer
from monitor.services.intake.feeds import LACKS_PERMISSION, Binding


@dataclass(frozen=True)
class Peer:
    ip: str
    cert_names: tuple[str, ...] = ()  # subject CN and DNS SANs of a verified certificate

    @classmethod
    def of(cls, writer: asyncio.StreamWriter) -> Peer:
        address = writer.get_extra_info("peername") or ("", 0)
        cert: dict[str, Any] = writer.get_extra_info("peercert") or {}
        names = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
        names += [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
        return cls(str(address[0]), tuple(names))


CONNECTION: ContextVar[Peer | None] = ContextVar("mllp_peer", default=None)


def peer() -> Peer:
    """The peer of the connection whose frame is being handled."""
    return CONNECTION.get() or Peer("")


class AuthenticatedServer(MllpServer):
    """The MLLP server that notes each connection's peer for the handler (each connection
    runs in its own task, so its context holds its own peer)."""

    def _connected(self, writer: asyncio.StreamWriter) -> None:
        # After the TLS handshake, so that the verified certificate's names are known.
        CONNECTION.set(Peer.of(writer))


def identify(peer: Peer, bindings: Sequence[Binding]) -> Binding | None:
    """The feed this peer is: by certificate name first, else by address."""
    for b in bindings:
        if b.cert_cn and b.cert_cn in peer.cert_names:
            return b
    try:
        ip = ipaddress.ip_address(peer.ip)
    except ValueError:
        return None
    for b in bindings:
        if not b.cert_cn and any(ip in ipaddress.ip_network(n, strict=False)
                                 for n in b.allow_ips):
            return b
    return None


def needed(outcome: Hl7Outcome) -> set[str]:
    """The permissions a message's items need: removals for a removed or corrected result,
    adt for a patient's admission, move or discharge, merges for a merge."""
    need = set()
    for item in outcome.items:
        if isinstance(item, ResultEvent):
            need.add("removals" if item.status in (ResultStatus.REMOVED, ResultStatus.CORRECTED)
                     else "results")
        elif isinstance(item, PatientEvent):
            need.add("adt")
        elif isinstance(item, MergeEvent):
            need.add("merges")
    return need


def unknown_sender(peer: Peer) -> str:
    who = f"certificate {', '.join(peer.cert_names)}" if peer.cert_names else "no certificate"
    return f"unknown sender ({who}, address {peer.ip or '?'}): no feed is bound to it"


def missing(binding: Binding, outcome: Hl7Outcome) -> str | None:
    """Why this feed may not send this message, or None."""
    lacking = sorted(needed(outcome) - binding.permissions)
    if not lacking:
        return None
    return (f"feed {binding.name.removeprefix('hl7:')} {LACKS_PERMISSION} "
            f"{', '.join(lacking)} (sodium-monitor feeds add --allow)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_refusal(host: str, client_ca: str | None, bindings: Sequence[Binding]) -> str | None:
    """Why the listener must not start on `host` (unless told `--insecure`), or None."""
    if is_loopback(host) or client_ca or any(b.allow_ips for b in bindings):
        return None
    return (f"refusing to listen on {host} without feed authentication: anyone who reaches "
            "the port could change clinical data. Set SODIUM_MLLP_TLS_CLIENT_CA (client "
            "certificates), or allow-list a feed (sodium-monitor feeds add NAME --allow-ip "
            "CIDR), or pass --insecure (SODIUM_MLLP_INSECURE=true) on a network you trust")


def tls_context(cert: str | None, key: str | None,
                client_ca: str | None = None) -> ssl.SSLContext | None:
    if not cert:
        if client_ca:
            raise ValueError("SODIUM_MLLP_TLS_CLIENT_CA needs SODIUM_MLLP_TLS_CERT and _KEY")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context
