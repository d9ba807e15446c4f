"""API bearer tokens: shown once, stored as a hash only."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from monitor.services.access.roles import ROLES
from monitor.storage.repos.common import insert_ignore
from monitor.storage.tables import ApiToken, Role
from monitor.storage.uow import UnitOfWork


def token_hash(token: str) -> str:
    # Tokens are 256 random bits: a plain SHA-256 is enough (no dictionary to guess from).
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_roles(uow: UnitOfWork) -> None:
    for name, description in ROLES.items():
        insert_ignore(uow.session, Role.__table__,  # type: ignore[arg-type]
                      {"name": name, "description": description}, ["name"])


def create_token(uow: UnitOfWork, name: str, role: str, now: datetime) -> str:
    """Create a token and return it; only its hash is kept."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    ensure_roles(uow)
    token = "smt_" + secrets.token_urlsafe(32)
    uow.session.add(ApiToken(name=name, role=role, token_hash=token_hash(token),
                             created_at=now))
    uow.commit()
    return token


@dataclass(frozen=True)
class Caller:
    name: str
    role: str


def use_token(uow: UnitOfWork, token: str, now: datetime) -> ApiToken | None:
    """The live (not revoked) token row, its last use recorded; None if unknown."""
    row: ApiToken | None = uow.session.scalar(select(ApiToken).where(
        ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None)))
    if row is not None:
        row.last_used_at = now
        uow.commit()
    return row


def caller_for(uow: UnitOfWork, token: str, now: datetime) -> Caller | None:
    row = use_token(uow, token, now)
    return None if row is None else Caller(row.name, row.role)
