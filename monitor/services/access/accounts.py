"""A user's account: the password rules, disabling and enabling it, a new password set by
an admin. The command line and the admin page apply the same rules (they call these).

Disabling ends what the account has open, its web sessions and its API tokens, at once:
sign-in already refuses a disabled user, but a session opened before would otherwise last
its shift."""

from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher
from sqlalchemy import delete, select, update

from monitor.storage.tables import ApiToken, User, WebSession
from monitor.storage.uow import UnitOfWork

# Security settings, not clinical numbers. NIST SP 800-63B 5.1.1.2: a chosen secret has at
# least 8 characters and long passphrases are allowed; the upper bound keeps one sign-in's
# hashing cheap.
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256


def password_problem(password: str, username: str) -> str | None:
    """Why `password` is refused for `username`, in words, or None."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"a password has at least {MIN_PASSWORD_CHARS} characters"
    if len(password) > MAX_PASSWORD_CHARS:
        return f"a password has at most {MAX_PASSWORD_CHARS} characters"
    if password.strip().lower() == username.strip().lower():
        return "the password may not be the username"
    return None


def password_hash(password: str, username: str) -> str:
    """The argon2 hash of an acceptable password; ValueError says why one is refused."""
    problem = password_problem(password, username)
    if problem is not None:
        raise ValueError(problem)
    return PasswordHasher().hash(password)


def user_named(uow: UnitOfWork, username: str) -> User:
    user = uow.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise LookupError(f"no user {username!r}")
    return user


def _end_sessions(uow: UnitOfWork, user_id: int) -> int:
    gone = uow.session.execute(delete(WebSession).where(WebSession.user_id == user_id)
                               .execution_options(synchronize_session=False))
    return int(getattr(gone, "rowcount", 0) or 0)


def disable_user(uow: UnitOfWork, username: str, now: datetime, *, by: str) -> int:
    """Disable an account, end its web sessions and revoke its API tokens; how many of
    them ended. `by`, the admin doing it, may not disable their own account."""
    if username == by:
        raise ValueError("you cannot disable your own account")
    user = user_named(uow, username)
    user.active = False
    ended = _end_sessions(uow, user.id)
    revoked = uow.session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False))
    uow.commit()
    return ended + int(getattr(revoked, "rowcount", 0) or 0)


def enable_user(uow: UnitOfWork, username: str) -> None:
    """Let a disabled account sign in again (its revoked tokens stay revoked)."""
    user_named(uow, username).active = True
    uow.commit()


def reset_password(uow: UnitOfWork, username: str, password: str) -> int:
    """Set a new password and end the account's web sessions; how many ended."""
    user = user_named(uow, username)
    user.password_hash = password_hash(password, username)
    ended = _end_sessions(uow, user.id)
    uow.commit()
    return ended
