"""How many MLLP connections the listener holds open: in all, and per peer address.

A peer over its share is refused at accept (the socket closed before a byte is read), so
a misbehaving sender that opens sockets and never speaks cannot crowd out the other feeds,
and the connections already open are left untouched. Each refusal is kept as a reject row,
at most one per peer a minute (with the count of those refused since): a flood of
connections must not become a flood of writes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

RECORD_EVERY_S = 60.0  # a refused peer's reject rows: at most one a minute
PEERS_KEPT = 4096  # refused addresses remembered before the quiet ones are forgotten


@dataclass
class ConnectionGate:
    max_connections: int = 200
    max_per_peer: int = 20
    open: int = 0
    by_peer: Counter[str] = field(default_factory=Counter)
    _refused: Counter[str] = field(default_factory=Counter)
    _recorded_at: dict[str, float] = field(default_factory=dict)

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

    def to_record(self, peer: str, now_s: float) -> int | None:
        """Whether this refusal of `peer` is kept as a reject row now (monotonic `now_s`):
        the number of its refusals since its last row, this one included; None: not yet."""
        if len(self._recorded_at) > PEERS_KEPT:  # many addresses: forget the quiet ones
            for old in [p for p, t in self._recorded_at.items() if now_s - t >= RECORD_EVERY_S]:
                del self._recorded_at[old]
                self._refused.pop(old, None)
        self._refused[peer] += 1
        last = self._recorded_at.get(peer)
        if last is not None and now_s - last < RECORD_EVERY_S:
            return None
        self._recorded_at[peer] = now_s
        return self._refused.pop(peer)

    def release(self, peer: str) -> None:
        self.open -= 1
        self.by_peer[peer] -= 1
        if self.by_peer[peer] <= 0:
            del self.by_peer[peer]
