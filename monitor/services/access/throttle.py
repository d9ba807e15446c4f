"""Sign-in throttling per client address and per username (issue 13, finding 2).

Every attempt is counted before its password is verified, by one atomic upsert per counter
that matches only while that counter does not make the attempt wait; a successful sign-in
clears both. The address counter makes a guessing address wait; the username counter makes
an account wait only for addresses that have failed MAX_FAILURES times themselves, unless
the account has been hit by very many failures (guesses from many addresses): the nurse on
her own workstation signs in while an attacker's address waits. docs/safety.md, "Sign-in
throttling", says why.

These numbers are security settings, not clinical ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, delete, or_, select, update

from monitor.storage.repos.common import dialect_insert
from monitor.storage.tables import LoginThrottle
from monitor.storage.uow import UnitOfWork

MAX_FAILURES = 5  # failures in a row (per address, per username) before attempts must wait
MAX_DELAY = timedelta(minutes=15)  # the wait doubles from 1 s up to this
# Failures on one username, from any addresses, after which an address that has not failed
# waits for the account too: below it, another address's guesses never keep a nurse out.
ACCOUNT_FLOOD_FAILURES = 50
FORGET_AFTER = timedelta(hours=24)  # failures with no attempt since are forgotten
_KEY_CHARS = 100  # usernames are at most 100 characters (users.username)


def delay_after(failures: int) -> timedelta:
    """The wait before the next attempt is evaluated: none below MAX_FAILURES, then 1 s,
    2 s, 4 s ... up to MAX_DELAY."""
    if failures < MAX_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - MAX_FAILURES, 20)), MAX_DELAY)


def address_key(address: str) -> str:
    return f"address:{address[:_KEY_CHARS]}"


def account_key(username: str) -> str:
    return f"account:{username[:_KEY_CHARS]}"


@dataclass(frozen=True)
class Waiting:
    """The attempt was not evaluated: retry after this many seconds."""

    retry_after_s: int


def _count(uow: UnitOfWork, key: str, now: datetime,
           allowed: ColumnElement[bool]) -> int | None:
    """Count one attempt on `key` unless its row is not `allowed`; the count, or None."""
    t = LoginThrottle
    failures = case((t.last_attempt_at < now - FORGET_AFTER, 1), else_=t.failures + 1)
    insert = dialect_insert(uow.session)
    statement = insert(t).values(key=key, failures=1, last_attempt_at=now).on_conflict_do_update(
        index_elements=[t.key], set_={"failures": failures, "last_attempt_at": now},
        where=allowed).returning(t.failures)
    n: int | None = uow.session.execute(statement).scalar()
    if n is not None and delay_after(n):
        uow.session.execute(update(LoginThrottle).where(LoginThrottle.key == key)
                            .values(wait_until=now + delay_after(n))
                            .execution_options(synchronize_session=False))
    return n


def _not_waiting(now: datetime) -> ColumnElement[bool]:
    return or_(LoginThrottle.wait_until.is_(None), LoginThrottle.wait_until <= now)


def _waiting(uow: UnitOfWork, key: str, now: datetime) -> Waiting:
    until = uow.session.scalar(select(LoginThrottle.wait_until)
                               .where(LoginThrottle.key == key))
    seconds = (until - now).total_seconds() if until is not None else 1.0
    return Waiting(max(math.ceil(seconds), 1))


def reserve(uow: UnitOfWork, address: str, username: str, now: datetime) -> Waiting | None:
    """Count one attempt from `address` at `username` (known or not), or say how long it
    must wait; the caller commits before it verifies the password."""
    by_address = address_key(address)
    n = _count(uow, by_address, now, _not_waiting(now))
    if n is None:
        return _waiting(uow, by_address, now)
    allowed = _not_waiting(now)
    if n < MAX_FAILURES:  # an address that is not guessing is kept out only by a flood
        allowed = or_(allowed, LoginThrottle.failures < ACCOUNT_FLOOD_FAILURES)
    by_account = account_key(username)
    if _count(uow, by_account, now, allowed) is None:
        return _waiting(uow, by_account, now)
    return None


def succeeded(uow: UnitOfWork, address: str, username: str) -> None:
    """A correct password clears the counters of its address and its username (no row is
    no failure, so the table holds only addresses and usernames that failed)."""
    uow.session.execute(delete(LoginThrottle).where(
        LoginThrottle.key.in_((address_key(address), account_key(username))))
        .execution_options(synchronize_session=False))


def forget_idle(uow: UnitOfWork, now: datetime) -> int:
    """Delete the rows of addresses and usernames with no attempt for FORGET_AFTER (their
    failures are forgotten already): guesses under ever new names or addresses must not
    grow the table without bound. Returns how many."""
    with uow:
        gone = uow.session.execute(delete(LoginThrottle).where(
            LoginThrottle.last_attempt_at < now - FORGET_AFTER, _not_waiting(now))
            .execution_options(synchronize_session=False))
        uow.commit()
    return int(getattr(gone, "rowcount", 0) or 0)
