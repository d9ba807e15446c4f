"""Administration: wards, users, notification channels, the on-call roster. The admin
pages and the command line call these same functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from monitor.engine.policy import BUILT_IN, load_policy
from monitor.services.access.accounts import password_hash, user_named
from monitor.services.access.roles import ROLES
from monitor.services.access.tokens import ensure_roles
from monitor.storage.repos.common import require_fits
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
# A bound on the escalation timings, not a clinical number: an escalation or a repeat more
# than a day away is none at all (and the seconds must fit their integer column).
LONGEST_TIMING = timedelta(hours=24)


def _seconds(span: timedelta | None, what: str) -> int | None:
    if span is None:
        return None
    if not timedelta(0) < span <= LONGEST_TIMING:
        raise ValueError(f"{what} must be more than 0 and at most "
                         f"{LONGEST_TIMING // timedelta(hours=1)} h")
    return int(span.total_seconds())


def upsert_ward(uow: UnitOfWork, code: str, now: datetime, *, name: str | None = None,
                escalate_critical_after: timedelta | None = None,
                escalate_warning_after: timedelta | None = None,
                repeat_every: timedelta | None = None, fallback: str | None = None,
                policy: str | None = None) -> Ward:
    """Create a ward or update the given settings of an existing one (None: unchanged;
    an empty fallback or policy: none, the service-wide policy)."""
    timings = (_seconds(escalate_critical_after, "critical escalation"),
               _seconds(escalate_warning_after, "warning escalation"),
               _seconds(repeat_every, "the repeat"))
    if not code.strip():
        raise ValueError("a ward needs a code")
    for value, column, label in ((code, Ward.code, "ward code"), (name, Ward.name, "ward name"),
                                 (fallback, Ward.fallback_contact, "fallback contact")):
        require_fits(value or "", column, label)
    if policy:
        load_policy(policy)  # refuse a name or file that does not load, with its reason
    ward = uow.session.get(Ward, ward_id(uow.session, code, now))
    assert ward is not None
    if name is not None:
        ward.name = name
    critical, warning, repeat = timings
    if critical is not None:
        ward.escalate_critical_after_s = critical
    if warning is not None:
        ward.escalate_warning_after_s = warning
    if repeat is not None:
        ward.repeat_every_s = repeat
    if fallback is not None:
        ward.fallback_contact = fallback or None
    if policy is not None:
        ward.policy = policy or None
    uow.commit()
    return ward


def known_wards(uow: UnitOfWork, codes: Sequence[str]) -> list[str]:
    """`codes`, each of which names a ward, or ValueError: the admin page picks from the
    wards there are (the command line's unknown ward is created, with default settings)."""
    known = set(uow.session.scalars(select(Ward.code).where(Ward.code.in_(codes))))
    missing = [code for code in codes if code not in known]
    if missing:
        raise ValueError(f"no ward {', '.join(repr(m) for m in missing)}")
    return list(codes)


def policy_choices(uow: UnitOfWork) -> list[str]:
    """The policies a ward may be given from the admin page: the installed profiles, and
    those wards already have (a TOML file set by `wards add --policy`), never a new path."""
    held = uow.session.scalars(select(Ward.policy).where(Ward.policy.is_not(None)).distinct())
    return [*BUILT_IN, *sorted({p for p in held if p and p not in BUILT_IN})]


def create_user(uow: UnitOfWork, username: str, role: str, now: datetime, *,
                wards: Sequence[str] = (), password: str | None = None,
                display_name: str = "") -> User:
    """Create a user (without a password: one who cannot sign in until it is reset)."""
    if role not in PEOPLE:
        raise ValueError(f"role must be one of {', '.join(PEOPLE)} (feeds use tokens)")
    if not username.strip() or username != username.strip():
        raise ValueError("a username is not empty and has no spaces around it")
    require_fits(username, User.username, "username")
    require_fits(display_name, User.display_name, "display name")
    hashed = password_hash(password, username) if password is not None else None
    ensure_roles(uow)
    if uow.session.scalar(select(User).where(User.username == username)) is not None:
        raise ValueError(f"user {username!r} exists")
    user = User(username=username, role=role, display_name=display_name or username,
                password_hash=hashed, active=True, created_at=now)
    uow.session.add(user)
    uow.session.flush()
    for code in wards:
        uow.session.add(WardMembership(user_id=user.id, ward_id=ward_id(uow.session, code, now)))
    uow.commit()
    return user


def add_channel(uow: UnitOfWork, username: str, *, webhook: str | None = None,
                secret: str | None = None, email: str | None = None,
                show_mrn: bool = False) -> NotificationChannel:
    if (webhook is None) == (email is None):
        raise ValueError("give a webhook URL (with its secret) or an e-mail address, not both")
    if webhook is not None and not secret:
        raise ValueError("a webhook needs a secret (its payloads are signed with it)")
    if webhook is not None and (urlsplit(webhook).scheme not in ("http", "https")
                                or not urlsplit(webhook).netloc):
        raise ValueError(f"{webhook!r} is not an http:// or https:// address")
    if email is not None and "@" not in email.strip("@"):
        raise ValueError(f"{email!r} is not an e-mail address")
    require_fits(webhook or email or "", NotificationChannel.target, "channel address")
    require_fits(secret or "", NotificationChannel.secret, "webhook secret")
    user = user_named(uow, username)
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
    user = user_named(uow, username)
    if user.role not in ("physician", "admin"):
        raise ValueError(f"{username} is a {user.role}; the on-call roster is for physicians")
    shift = OnCallShift(ward_id=ward_id(uow.session, ward, now), user_id=user.id,
                        starts_at=starts, ends_at=ends)
    uow.session.add(shift)
    uow.commit()
    return shift


def end_shift(uow: UnitOfWork, shift_id: int, now: datetime) -> str:
    """End a current shift now or remove one that has not started; what was done."""
    shift = uow.session.get(OnCallShift, shift_id)
    if shift is None:
        raise LookupError(f"no shift {shift_id}")
    if shift.ends_at <= now:
        raise ValueError("that shift is over already")
    if shift.starts_at > now:
        uow.session.delete(shift)
        done = "removed"
    else:
        shift.ends_at = now
        done = "ended"
    uow.commit()
    return done


def _channel(uow: UnitOfWork, channel_id: int) -> NotificationChannel:
    channel = uow.session.get(NotificationChannel, channel_id)
    if channel is None:
        raise LookupError(f"no channel {channel_id}")
    return channel


def disable_channel(uow: UnitOfWork, channel_id: int) -> NotificationChannel:
    """Stop sending to a channel (kept, for the deliveries already made through it)."""
    channel = _channel(uow, channel_id)
    channel.active = False
    uow.commit()
    return channel


def mask_channel(uow: UnitOfWork, channel_id: int, show_mrn: bool) -> NotificationChannel:
    """Whether a channel's messages carry the MRN unmasked (names never travel)."""
    channel = _channel(uow, channel_id)
    channel.show_mrn = show_mrn
    uow.commit()
    return channel


__all__ = ["ROLES", "add_channel", "add_shift", "create_user", "disable_channel", "end_shift",
           "known_wards", "mask_channel", "policy_choices", "upsert_ward"]
