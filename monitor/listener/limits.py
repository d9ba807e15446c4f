"""How many MLLP connections the listener holds open: in all, and per peer address.

A peer over its share is refused at accept (the socket closed before a byte is read), so
a misbehaving sender that opens sockets and never speaks cannot crowd out the other feeds,
and the connections already open are left untouched.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class ConnectionGate:
    max_connections: int = 200
    max_per_peer: int = 20
    open: int = 0
    by_peer: Counter[str] = field(default_factory=Counter)

    def admit(self, peer: str) -> str | None:
        """Take a slot for `peer`; the reason it is refused, or None when admitted."""
        if self.open >= self.max_connections:
            return f"{self.open} connections already open (SODIUM_MLLP_MAX_CONNECTIONS)"
        if self.by_peer[peer] >= self.max_per_peer:
            return (f"{self.by_peer[peer]} connections already open from {peer} "
                    "(SODIUM_MLLP_MAX_CONNECTIONS_PER_PEER)")
        self.open += 1
        self.by_peer[peer] += 1
        return None

    def release(self, peer: str) -> None:
        self.open -= 1
        self.by_peer[peer] -= 1
        if self.by_peer[peer] <= 0:
            del self.by_peer[peer]
