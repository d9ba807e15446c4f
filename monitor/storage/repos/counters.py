"""Counters that only ever go up (`service_counters`), for Prometheus `_total` families.

Each is added to in the transaction that does what it counts, so a rolled-back attempt is
not counted and a committed one always is; purging or finishing rows never lowers it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.storage.repos.common import dialect_insert
from monitor.storage.tables import ServiceCounter

INBOX_RETRIES = "inbox_retries"  # attempts at an inbox row after its first
DELIVERY_RETRIES = "delivery_retries"  # attempts at a delivery after its first


def add(session: Session, name: str, n: int = 1) -> None:
    """Add `n` to counter `name` (created at 0), in the caller's transaction."""
    if n <= 0:
        return
    statement = dialect_insert(session)(ServiceCounter).values(name=name, value=n)
    session.execute(statement.on_conflict_do_update(
        index_elements=[ServiceCounter.name],
        set_={"value": ServiceCounter.value + statement.excluded.value}))


def value(session: Session, name: str) -> int:
    return session.scalar(select(ServiceCounter.value)
                          .where(ServiceCounter.name == name)) or 0
