"""What the admin page shows: feeds and their liveness, the codes they send that are not
used, rejects, wards, users with their wards and channels, and the roster from now on."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from monitor.services.intake.pipeline import PSEUDO_FEEDS
from monitor.services.intake.rejects import latest_rejects
from monitor.services.intake.unmapped import unmapped_list
from monitor.services.operations.admin import policy_choices
from monitor.storage.tables import (
    Feed,
    NotificationChannel,
    OnCallShift,
    Result,
    User,
    Ward,
    WardMembership,
)
from monitor.storage.uow import UnitOfWork


def _tests_only(uow: UnitOfWork, feed: str) -> bool:
    """The feed sent test results (HL7 MSH-11 T or D) and never a real one: a system being
    set up or a training feed, which delivers nothing the wards rely on. Both look-ups
    follow the (source_feed, ...) unique index."""
    sent = select(Result.id).where(Result.source_feed == feed)
    return bool(uow.session.scalar(select(sent.where(Result.test).exists()))) and \
        not uow.session.scalar(select(sent.where(Result.test.is_(False)).exists()))


def _liveness(uow: UnitOfWork, f: Feed, now: datetime) -> str:
    # Pseudo feeds (imports, unknown and unauthenticated senders) are no sender: they are
    # listed, never as live or silent; nor is a feed of test messages live.
    if f.name in PSEUDO_FEEDS:
        return "not a sender"
    if f.last_message_at is None or \
            now - f.last_message_at > timedelta(seconds=f.silent_after_s):
        return "silent"
    return "test messages only" if _tests_only(uow, f.name) else "live"


def _feeds(uow: UnitOfWork, now: datetime) -> list[dict[str, Any]]:
    return [{"name": f.name, "kind": f.kind, "last_message_at": f.last_message_at,
             "liveness": _liveness(uow, f, now),
             "cert_cn": f.cert_cn, "allow_ips": list(f.allow_ips or []),
             "permissions": (f.permissions or "").replace(",", ", ")}
            for f in uow.session.scalars(select(Feed).order_by(Feed.name))]


def _users(uow: UnitOfWork) -> list[dict[str, Any]]:
    s = uow.session
    wards: dict[int, list[str]] = defaultdict(list)
    for user_id, code in s.execute(select(WardMembership.user_id, Ward.code).join(
            Ward, Ward.id == WardMembership.ward_id).order_by(Ward.code)):
        wards[user_id].append(code)
    return [{"username": u.username, "role": u.role, "display_name": u.display_name,
             "active": u.active, "has_password": u.password_hash is not None,
             "wards": wards[u.id]}
            for u in s.scalars(select(User).order_by(User.username))]


def _channels(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [{"id": ch.id, "user": name, "kind": ch.kind, "target": ch.target,
             "show_mrn": ch.show_mrn, "active": ch.active}
            for ch, name in uow.session.execute(
                select(NotificationChannel, User.username)
                .join(User, User.id == NotificationChannel.user_id)
                .order_by(User.username, NotificationChannel.id))]


def _shifts(uow: UnitOfWork, now: datetime) -> list[dict[str, Any]]:
    return [{"id": sh.id, "ward": w, "user": u, "starts_at": sh.starts_at,
             "ends_at": sh.ends_at, "current": sh.starts_at <= now}
            for sh, w, u in uow.session.execute(
                select(OnCallShift, Ward.code, User.username)
                .join(Ward, Ward.id == OnCallShift.ward_id)
                .join(User, User.id == OnCallShift.user_id)
                .where(OnCallShift.ends_at > now).order_by(OnCallShift.starts_at))]


def admin_overview(uow: UnitOfWork, now: datetime) -> dict[str, Any]:
    """Everything the admin page lists, as plain values."""
    return {"feeds": _feeds(uow, now), "unmapped": unmapped_list(uow.session, 100),
            "rejects": latest_rejects(uow, 100),
            "ward_rows": list(uow.session.scalars(select(Ward).order_by(Ward.code))),
            "users": _users(uow), "channels": _channels(uow), "shifts": _shifts(uow, now),
            "policies": policy_choices(uow)}
