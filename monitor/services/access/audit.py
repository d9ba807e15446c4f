"""The audit log: append-only; every look at a patient, every alert action, every risk
factor change, every login."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select

from monitor.storage.tables import AuditEntry
from monitor.storage.uow import UnitOfWork


def audit(uow: UnitOfWork, actor: str, action: str, now: datetime,
          target_type: str | None = None, target_id: object = None, **details: Any) -> None:
    uow.session.add(AuditEntry(at=now, actor=actor, action=action, target_type=target_type,
                     target_id=None if target_id is None else str(target_id),
                     details=details))


def latest(uow: UnitOfWork, limit: int = 200, actor: str | None = None,
           actions: Collection[str] = ()) -> list[AuditEntry]:
    """The newest entries first, of one actor and of some actions if given."""
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if actions:
        q = q.where(AuditEntry.action.in_(list(actions)))
    return list(uow.session.scalars(q))


def entries(uow: UnitOfWork, limit: int = 200, actor: str | None = None
            ) -> Iterator[dict[str, Any]]:
    for e in latest(uow, limit, actor):
        yield {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
               "target_type": e.target_type, "target_id": e.target_id, "details": e.details}


def record_denial(uow: UnitOfWork, actor: str, method: str, path: str, status: int,
                  address: str | None, now: datetime) -> None:
    """An access refused (401, 403, or a page that sent its visitor to sign in): who, from
    where, what they asked for. The query string is left out: it may carry a search term
    or a token."""
    with uow:
        audit(uow, actor, "access-denied", now, "path", path[:200], method=method,
              status=status, address=address)
        uow.commit()
