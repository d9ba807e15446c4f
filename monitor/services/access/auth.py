"""Sign-in: argon2 password hashes, growing waits after repeated failures (per client
address and per username: monitor/services/access/throttle.py), server-side sessions whose
cookie token is stored only as a hash, a CSRF token per session.

An attempt is counted before its password is verified and committed, so parallel guesses
cannot all be evaluated before the counters move (issue 13, finding 2). Unknown users are
counted the same way and get the same answer and the same argon2 work (a verify against a
fixed hash)."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from monitor.services.access import throttle
from monitor.services.access.audit import audit
from monitor.storage.tables import User, WebSession
from monitor.storage.uow import UnitOfWork

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
    """Wrong username or password, or the attempt must wait; one message for all of them,
    so the answer does not tell whether the username exists. `retry_after_s` is set when
    the attempt was not evaluated because its address or username waits."""

    def __init__(self, retry_after_s: int | None = None) -> None:
        super().__init__(REFUSED)
        self.retry_after_s = retry_after_s


def _dummy_verify(password: str) -> None:
    """The argon2 work of a real verify, for a username that does not exist."""
    with contextlib.suppress(VerificationError, InvalidHashError):
        _HASHER.verify(_DUMMY_HASH, password)


def _verify(stored: str | None, password: str) -> bool:
    """Whether `password` matches; the same argon2 work when there is no stored hash."""
    if not stored:
        _dummy_verify(password)
        return False
    try:
        return bool(_HASHER.verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


def login(uow: UnitOfWork, username: str, password: str, now: datetime,
          source: str = "") -> SignedIn:
    """Sign in from client address `source`, or raise LoginRefused."""
    s = uow.session
    user = s.scalar(select(User).where(User.username == username, User.active.is_(True)))
    user_id, stored = (user.id, user.password_hash) if user is not None else (None, None)
    target = user_id if user_id is not None else username
    waiting = throttle.reserve(uow, source, username, now)
    uow.commit()  # the attempt is counted before it is evaluated
    if waiting is not None:
        audit(uow, username or "?", "login-throttled", now, "user", target, source=source)
        uow.commit()
        raise LoginRefused(waiting.retry_after_s)
    if not _verify(stored, password) or user_id is None:
        audit(uow, username or "?", "login-failed", now, "user", target, source=source)
        uow.commit()
        raise LoginRefused
    throttle.succeeded(uow, source, username)
    signed = open_session(uow, user_id, now)
    audit(uow, username, "login", now, "user", user_id, source=source)
    uow.commit()
    return signed


def open_session(uow: UnitOfWork, user_id: int, now: datetime,
                 patient_id: int | None = None) -> SignedIn:
    """A new session of `user_id` (for `patient_id` only, if given); the caller commits."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    uow.session.add(WebSession(token_hash=_hash(token), user_id=user_id, csrf_token=csrf,
                               created_at=now, expires_at=now + SESSION_LIFETIME,
                               patient_id=patient_id))
    return SignedIn(token, csrf, user_id)


def session_user(uow: UnitOfWork, token: str, now: datetime
                 ) -> tuple[User, WebSession] | None:
    """(user, session) of a live session, or None. The session holds the CSRF token and,
    for a SMART launch, the one patient it may see."""
    row = uow.session.get(WebSession, _hash(token))
    if row is None or row.expires_at <= now:
        return None
    user = uow.session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return user, row


def logout(uow: UnitOfWork, token: str) -> None:
    uow.session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))
    uow.commit()
