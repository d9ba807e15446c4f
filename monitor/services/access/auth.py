"""Sign-in: argon2 password hashes, growing delays after repeated failures, server-side
sessions whose cookie token is stored only as a hash, a CSRF token per session.

An attempt is reserved before the password is verified: one atomic UPDATE counts it and
refuses it while the account waits, so parallel guesses cannot all be evaluated before the
counter moves (issue 13, finding 2). Unknown users get the same answer and the same argon2
work (a verify against a fixed hash)."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, or_, select, update

from monitor.services.access.audit import audit
from monitor.storage.tables import User, WebSession
from monitor.storage.uow import UnitOfWork

MAX_FAILURES = 5  # failures in a row before each further attempt must wait
MAX_DELAY = timedelta(minutes=15)  # the wait doubles from 1 s up to this
REFUSED = "wrong username or password, or too many attempts: wait a little and try again"
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("not a password of anyone")
SESSION_LIFETIME = timedelta(hours=12)  # one shift


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    token: str
    csrf: str
    user_id: int


class LoginRefused(Exception):
    """Wrong username or password, or the account must wait; one message for all of them,
    so the answer does not tell whether the username exists."""


def _dummy_verify(password: str) -> None:
    """The argon2 work of a real verify, for a username that does not exist."""
    with contextlib.suppress(VerificationError, InvalidHashError):
        _HASHER.verify(_DUMMY_HASH, password)


def delay_after(failures: int) -> timedelta:
    """The wait before the next attempt is evaluated: none below MAX_FAILURES, then 1 s,
    2 s, 4 s ... up to MAX_DELAY."""
    if failures < MAX_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - MAX_FAILURES, 20)), MAX_DELAY)


def _reserve(uow: UnitOfWork, user_id: int, now: datetime) -> int | None:
    """Count one attempt atomically, or None while the account waits (not evaluated)."""
    s = uow.session
    n = s.execute(update(User).where(
        User.id == user_id, or_(User.locked_until.is_(None), User.locked_until <= now))
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins).execution_options(synchronize_session=False)).scalar()
    if n is not None and delay_after(n):
        s.execute(update(User).where(User.id == user_id)
                  .values(locked_until=now + delay_after(n))
                  .execution_options(synchronize_session=False))
    return n


def login(uow: UnitOfWork, username: str, password: str, now: datetime,
          source: str = "") -> SignedIn:
    s = uow.session
    user = s.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None or not user.password_hash:
        _dummy_verify(password)
        audit(uow, username or "?", "login-failed", now, "user", username, source=source)
        uow.commit()
        raise LoginRefused(REFUSED)
    user_id, stored = user.id, user.password_hash
    reserved = _reserve(uow, user_id, now)
    uow.commit()  # the attempt is counted before it is evaluated
    if reserved is None:
        audit(uow, username, "login-throttled", now, "user", user_id, source=source)
        uow.commit()
        raise LoginRefused(REFUSED)
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        audit(uow, username, "login-failed", now, "user", user_id, source=source)
        uow.commit()
        raise LoginRefused(REFUSED) from None
    s.execute(update(User).where(User.id == user_id).values(failed_logins=0, locked_until=None)
              .execution_options(synchronize_session=False))
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    s.add(WebSession(token_hash=_hash(token), user_id=user_id, csrf_token=csrf,
                     created_at=now, expires_at=now + SESSION_LIFETIME))
    audit(uow, username, "login", now, "user", user_id, source=source)
    uow.commit()
    return SignedIn(token, csrf, user_id)


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
