"""The transactional outbox: delivery rows written in the same transaction as the alert
change they announce, one per recipient and channel, with an idempotency key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.notify.routing import Route, admins, route, ward_of
from monitor.storage.repos.common import insert_ignore
from monitor.storage.tables import Alert, Delivery, Notice, NotificationChannel, User

IN_APP = "in-app"


def _channels(session: Session, username: str) -> list[tuple[int | None, str]]:
    """(channel id, kind) of a user: in-app always, plus their webhook and email channels."""
    rows = session.execute(
        select(NotificationChannel.id, NotificationChannel.kind)
        .join(User, User.id == NotificationChannel.user_id)
        .where(User.username == username, NotificationChannel.active.is_(True))
        .order_by(NotificationChannel.id))
    return [(None, IN_APP), *((cid, kind) for cid, kind in rows)]


def _write(session: Session, recipients: list[str], event: str, key: str, now: datetime,
           alert_id: int | None = None, notice_id: int | None = None) -> list[int]:
    ids = []
    for username in recipients:
        for channel_id, kind in _channels(session, username):
            values = {
                "alert_id": alert_id, "notice_id": notice_id, "channel_id": channel_id,
                "recipient": username, "event": event,
                "idempotency_key": f"{key}:{username}:{channel_id or IN_APP}",
                # In-app is the dashboard's live feed: delivered by being written.
                "state": "sent" if kind == IN_APP else "pending",
                "attempts": 0, "next_attempt_at": now, "created_at": now,
                "sent_at": now if kind == IN_APP else None,
            }
            if insert_ignore(session, Delivery.__table__, values,  # type: ignore[arg-type]
                             ["idempotency_key"]) and kind != IN_APP:
                found = session.scalar(select(Delivery.id).where(
                    Delivery.idempotency_key == values["idempotency_key"]))
                if found is not None:
                    ids.append(found)
    return ids


def announce(session: Session, alert: Alert, event: str, occurrence: str,
             now: datetime) -> list[int]:
    """Write deliveries for an alert event; returns the ids of those to send.

    `occurrence` makes the key unique per happening (e.g. the due time of a repeat), so a
    second scheduler writing the same event again inserts nothing.
    """
    if not alert.notify:
        return []  # never page for the past, for backfill or for test messages
    ward = ward_of(session, alert.patient_id)
    path: Route = route(session, ward, event, alert.escalation_level > 0, now)
    key = f"alert:{alert.id}:{event}:{occurrence}"
    ids = _write(session, path.recipients, event, key, now, alert_id=alert.id)
    if path.no_on_call and ward is not None:
        ids += raise_notice(session, "NO_ON_CALL", ward.code,
                            f"Ward {ward.code}: nobody is on call to receive escalated alert "
                            f"{alert.id}; sent to the fallback contact.", now)
    elif ward is not None and event in ("escalated", "repeated"):
        clear_notice(session, "NO_ON_CALL", ward.code, now)  # someone is on call again
    return ids


def raise_notice(session: Session, kind: str, subject: str, message: str,
                 now: datetime) -> list[int]:
    """Open a notice for admins unless one is already open for (kind, subject)."""
    open_notice = session.scalar(select(Notice).where(
        Notice.kind == kind, Notice.subject == subject, Notice.cleared_at.is_(None)))
    if open_notice is not None:
        return []
    notice = Notice(kind=kind, subject=subject, message=message, raised_at=now)
    session.add(notice)
    session.flush()
    return _write(session, admins(session), kind, f"notice:{notice.id}", now,
                  notice_id=notice.id)


def clear_notice(session: Session, kind: str, subject: str, now: datetime) -> None:
    for notice in session.scalars(select(Notice).where(
            Notice.kind == kind, Notice.subject == subject, Notice.cleared_at.is_(None))):
        notice.cleared_at = now
