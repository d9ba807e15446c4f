"""Administration: wards, users, notification channels, the on-call roster. The admin
pages and the command line call these same functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import select

from monitor.engine.policy import load_policy
from monitor.services.access.roles import ROLES
from monitor.services.access.tokens import ensure_roles
from monitor.storage.repos.patients import ward_id
from monitor.storage.tables import (
    NotificationChannel,
    OnCallShift,
    User,
    Ward,
    WardMembership,
)
from monitor.storage.uow import UnitOfWork

PEOPLE = ("nurse", "physician", "admin")


def upsert_ward(uow: UnitOfWork, code: str, now: datetime, *, name: str | None = None,
                escalate_critical_after: timedelta | None = None,
                escalate_warning_after: timedelta | None = None,
                repeat_every: timedelta | None = None, fallback: str | None = None,
                policy: str | None = None) -> Ward:
    """Create a ward or update the given settings of an existing one."""
    ward = uow.session.get(Ward, ward_id(uow.session, code, now))
    assert ward is not None
    if name is not None:
        ward.name = name
    if escalate_critical_after is not None:
        ward.escalate_critical_after_s = int(escalate_critical_after.total_seconds())
    if escalate_warning_after is not None:
        ward.escalate_warning_after_s = int(escalate_warning_after.total_seconds())
    if repeat_every is not None:
        ward.repeat_every_s = int(repeat_every.total_seconds())
    if fallback is not None:
        ward.fallback_contact = fallback
    if policy is not None:
        load_policy(policy)  # refuse a name or file that does not load, with its reason
        ward.policy = policy
    uow.commit()
    return ward


def create_user(uow: UnitOfWork, username: str, role: str, now: datetime, *,
                wards: Sequence[str] = (), password: str | None = None,
                display_name: str = "") -> User:
    if role not in PEOPLE:
        raise ValueError(f"role must be one of {', '.join(PEOPLE)} (feeds use tokens)")
    ensure_roles(uow)
    if uow.session.scalar(select(User).where(User.username == username)) is not None:
        raise ValueError(f"user {username!r} exists")
    user = User(username=username, role=role, display_name=display_name or username,
                password_hash=PasswordHasher().hash(password) if password else None,
                active=True, created_at=now)
    uow.session.add(user)
    uow.session.flush()
    for code in wards:
        uow.session.add(WardMembership(user_id=user.id, ward_id=ward_id(uow.session, code, now)))
    uow.commit()
    return user


def _user(uow: UnitOfWork, username: str) -> User:
    user = uow.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise LookupError(f"no user {username!r}")
    return user


def add_channel(uow: UnitOfWork, username: str, *, webhook: str | None = None,
                secret: str | None = None, email: str | None = None,
                show_mrn: bool = False) -> NotificationChannel:
    if (webhook is None) == (email is None):
        raise ValueError("give either --webhook URL --secret S or --email ADDRESS")
    if webhook is not None and not secret:
        raise ValueError("a webhook needs --secret (its payloads are signed with it)")
    user = _user(uow, username)
    channel = NotificationChannel(user_id=user.id, kind="webhook" if webhook else "email",
                                  target=webhook or email or "", secret=secret,
                                  show_mrn=show_mrn, active=True)
    uow.session.add(channel)
    uow.commit()
    return channel


def add_shift(uow: UnitOfWork, ward: str, username: str, starts: datetime, ends: datetime,
              now: datetime) -> OnCallShift:
    if ends <= starts:
        raise ValueError("the shift must end after it starts")
    user = _user(uow, username)
    if user.role not in ("physician", "admin"):
        raise ValueError(f"{username} is a {user.role}; the on-call roster is for physicians")
    shift = OnCallShift(ward_id=ward_id(uow.session, ward, now), user_id=user.id,
                        starts_at=starts, ends_at=ends)
    uow.session.add(shift)
    uow.commit()
    return shift


__all__ = ["ROLES", "add_channel", "add_shift", "create_user", "upsert_ward"]
