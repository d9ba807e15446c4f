"""Timed alert work, driven by the scheduler: escalations and repeats, shelf expiry, and
the outbox retries. Timers are database rows; every step is claimed with a conditional
update, so two schedulers never send the same escalation twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from monitor.alerts import lifecycle as lc
from monitor.alerts.escalation import next_step
from monitor.notify.outbox import announce
from monitor.notify.routing import timing, ward_of
from monitor.services.alerting.actions import AlertChanged, record, view
from monitor.storage.tables import Alert, AlertEvent
from monitor.storage.uow import UnitOfWork


def escalate_due(uow: UnitOfWork, now: datetime) -> list[int]:
    """Escalate or repeat every unacknowledged alert whose timer ran out; returns the
    deliveries to send."""
    with uow:
        ids = list(uow.session.scalars(select(Alert.id).where(
            Alert.lifecycle == lc.UNACKNOWLEDGED, Alert.notify.is_(True),
            Alert.next_notification_at <= now).order_by(Alert.next_notification_at)))
    deliveries: list[int] = []
    for alert_id in ids:
        with uow:
            s = uow.session
            a = s.get(Alert, alert_id)
            if a is None or a.next_notification_at is None:
                continue
            due = a.next_notification_at
            step = next_step(a.escalation_level, due, now, timing(ward_of(s, a.patient_id)))
            if step is None:
                continue
            claimed = s.execute(update(Alert).where(
                Alert.id == alert_id, Alert.lifecycle == lc.UNACKNOWLEDGED,
                Alert.next_notification_at == due,
            ).values(escalation_level=step.level, next_notification_at=step.next_at))
            if getattr(claimed, "rowcount", 0) != 1:
                continue  # another scheduler, or an acknowledgement, got there first
            s.refresh(a)
            s.add(AlertEvent(alert_id=a.id, at=now, actor="scheduler", action=step.event,
                             from_state=a.lifecycle, to_state=a.lifecycle,
                             reason=f"unacknowledged since {a.created_at.isoformat()}"))
            deliveries += announce(s, a, step.event, due.isoformat(), now)
            uow.commit()
    return deliveries


def expire_shelves(uow: UnitOfWork, now: datetime) -> list[int]:
    """A shelved alert whose shelf expired returns, unacknowledged, and notifies again."""
    with uow:
        ids = list(uow.session.scalars(select(Alert.id).where(
            Alert.lifecycle == lc.SHELVED, Alert.shelved_until <= now)))
    deliveries: list[int] = []
    for alert_id in ids:
        with uow:
            a = uow.session.get(Alert, alert_id)
            t = lc.unshelve_if_due(view(a), now) if a is not None else None
            if a is None or t is None:
                continue
            after = timing(ward_of(uow.session, a.patient_id)).escalate_after(a.severity)
            try:
                record(uow, a, t, now, shelved_until=None,
                       next_notification_at=now + after)
            except AlertChanged:  # lost the race to another scheduler or a user: fine
                continue
            deliveries += announce(uow.session, a, "unshelved", now.isoformat(), now)
            uow.commit()
    return deliveries
