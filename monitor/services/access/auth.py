"""Sign-in: argon2 password hashes, lockout after repeated failures, server-side sessions
whose cookie token is stored only as a hash, a CSRF token per session."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from monitor.services.access.audit import audit
from monitor.storage.tables import User, WebSession
from monitor.storage.uow import UnitOfWork

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)  # one shift


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    token: str
    csrf: str
    user_id: int


class LoginRefused(Exception):
    """Wrong username or password, or the account is locked; the message says which."""


def login(uow: UnitOfWork, username: str, password: str, now: datetime,
          source: str = "") -> SignedIn:
    s = uow.session
    user = s.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None or not user.password_hash:
        audit(uow, username or "?", "login-failed", now, "user", username, source=source)
        uow.commit()
        raise LoginRefused("wrong username or password")
    if user.locked_until is not None and user.locked_until > now:
        audit(uow, username, "login-locked", now, "user", user.id, source=source)
        uow.commit()
        raise LoginRefused("too many failed attempts: the account is locked for a while")
    try:
        PasswordHasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until, user.failed_logins = now + LOCKOUT, 0
        audit(uow, username, "login-failed", now, "user", user.id, source=source)
        uow.commit()
        raise LoginRefused("wrong username or password") from None
    user.failed_logins, user.locked_until = 0, None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    s.add(WebSession(token_hash=_hash(token), user_id=user.id, csrf_token=csrf,
                     created_at=now, expires_at=now + SESSION_LIFETIME))
    audit(uow, username, "login", now, "user", user.id, source=source)
    uow.commit()
    return SignedIn(token, csrf, user.id)


def session_user(uow: UnitOfWork, token: str, now: datetime) -> tuple[User, str] | None:
    """(user, csrf token) of a live session, or None."""
    row = uow.session.get(WebSession, _hash(token))
    if row is None or row.expires_at <= now:
        return None
    user = uow.session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return user, row.csrf_token


def logout(uow: UnitOfWork, token: str) -> None:
    uow.session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))
    uow.commit()
