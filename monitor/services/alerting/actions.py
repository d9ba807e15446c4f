"""What people and the system do to alerts: acknowledge, shelve, resolve, re-alarm, notify.

Every transition is a conditional update (`WHERE lifecycle = :expected`, then the row
count): two nurses clicking at once, or the scheduler and a user, resolve safely, and the
loser is told the alert changed meanwhile. Every transition is an append-only alert_event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.alerts import lifecycle as lc
from monitor.alerts.escalation import first_due
from monitor.engine.policy import Policy
from monitor.engine.rules import still_present
from monitor.notify.outbox import announce
from monitor.notify.routing import timing, ward_of
from monitor.storage.tables import Alert, AlertEvent, Delivery, User
from monitor.storage.uow import UnitOfWork


class AlertChanged(Exception):
    """Someone else changed the alert first; reload and decide again."""


def view(a: Alert) -> lc.AlertView:
    return lc.AlertView(rule=a.rule, severity=a.severity, lifecycle=a.lifecycle,
                        value_mmol_l=a.value_mmol_l, rise_mmol_l=a.rise_mmol_l,
                        acknowledged_severity=a.acknowledged_severity,
                        acknowledged_rise=a.acknowledged_rise, shelved_until=a.shelved_until)


def _state(lifecycle: str) -> str:
    """The alert's coarse state in its JSON shape."""
    return {lc.RESOLVED: "resolved", lc.WITHDRAWN: "withdrawn"}.get(lifecycle, "active")


def record(uow: UnitOfWork, a: Alert, t: lc.Transition, now: datetime,
           **values: object) -> None:
    """Apply a transition with a conditional update; raise AlertChanged if it lost a race."""
    s = uow.session
    result = s.execute(update(Alert).where(Alert.id == a.id, Alert.lifecycle == t.from_state)
                       .values(lifecycle=t.to_state, state=_state(t.to_state), updated_at=now,
                               **values))
    if getattr(result, "rowcount", 0) != 1:
        raise AlertChanged(f"alert {a.id} is no longer {t.from_state}")
    s.add(AlertEvent(alert_id=a.id, at=now, actor=t.actor, action=t.action,
                     from_state=t.from_state, to_state=t.to_state, reason=t.reason))
    s.refresh(a)
    if t.to_state != lc.UNACKNOWLEDGED:
        # Notifications stop at once: nothing still queued for this alert goes out.
        s.execute(update(Delivery).where(Delivery.alert_id == a.id,
                                         Delivery.state == "pending",
                                         Delivery.event.in_(("raised", "escalated",
                                                             "repeated", "re-alarmed")))
                  .values(state="cancelled"))


def _user(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        raise LookupError(f"no active user {username!r}")
    return user


def _act(uow: UnitOfWork, alert_id: int,
         decide: Callable[[Session, Alert], tuple[lc.Transition, dict[str, object]]],
         now: datetime) -> Alert:
    with uow:
        a = uow.session.get(Alert, alert_id)
        if a is None:
            raise LookupError(f"no alert {alert_id}")
        t, values = decide(uow.session, a)
        record(uow, a, t, now, **values)
        uow.commit()
        return a


def acknowledge(uow: UnitOfWork, alert_id: int, username: str,
                note: str | None, now: datetime) -> Alert:
    """A named user takes ownership; escalation and repeats stop."""
    def decide(s: Session, a: Alert) -> tuple[lc.Transition, dict[str, object]]:
        user = _user(s, username)
        if user.role not in ("nurse", "physician", "admin"):
            raise lc.TransitionError(f"a {user.role} cannot acknowledge alerts")
        return lc.acknowledge(view(a), username, note), {
            "acknowledged_by": username, "acknowledged_at": now,
            "acknowledged_value": a.value_mmol_l, "acknowledged_severity": a.severity,
            "acknowledged_rise": a.rise_mmol_l, "next_notification_at": None}
    return _act(uow, alert_id, decide, now)


def shelve(uow: UnitOfWork, alert_id: int, username: str, reason: str,
           duration: timedelta, now: datetime) -> Alert:
    """Silence an alert for at most 12 h, with a reason; it returns when the shelf expires."""
    def decide(s: Session, a: Alert) -> tuple[lc.Transition, dict[str, object]]:
        _user(s, username)
        t = lc.shelve(view(a), username, reason, now + duration, now)
        return t, {"shelved_until": t.shelved_until, "next_notification_at": None}
    return _act(uow, alert_id, decide, now)


def unshelve(uow: UnitOfWork, alert_id: int, username: str, now: datetime) -> Alert:
    """Take an alert off the shelf early: unacknowledged again, its escalation timer
    started afresh (the user who did it is looking at it: no new page to the nurses)."""
    def decide(s: Session, a: Alert) -> tuple[lc.Transition, dict[str, object]]:
        _user(s, username)
        after = timing(ward_of(s, a.patient_id)).escalate_after(a.severity)
        return lc.unshelve(view(a), username), {"shelved_until": None,
                                                "next_notification_at": now + after}
    return _act(uow, alert_id, decide, now)


def resolve(uow: UnitOfWork, alert_id: int, username: str, note: str,
            now: datetime) -> Alert:
    """A physician closes the alert, with a note."""
    def decide(s: Session, a: Alert) -> tuple[lc.Transition, dict[str, object]]:
        user = _user(s, username)
        return lc.resolve(view(a), username, user.role, note), {
            "resolved_at": now, "next_notification_at": None}
    return _act(uow, alert_id, decide, now)


def after_engine_change(uow: UnitOfWork, a: Alert, kind: str, now: datetime) -> list[int]:
    """Lifecycle and notifications after the engine raised, updated, withdrew or resolved
    (its stay ended) an alert; returns the deliveries to send once committed."""
    s = uow.session
    if kind == "raised":
        if a.notify:
            a.next_notification_at = first_due(now, a.severity, timing(ward_of(s, a.patient_id)))
        return announce(s, a, "raised", "0", now)
    if kind == "resolved":  # its stay ended (engine.stays): nobody is paged for it now
        s.execute(update(Delivery).where(Delivery.alert_id == a.id, Delivery.state == "pending")
                  .values(state="cancelled"))
        a.next_notification_at = None
        return []
    if kind == "withdrawn":
        s.execute(update(Delivery).where(Delivery.alert_id == a.id, Delivery.state == "pending")
                  .values(state="cancelled"))
        a.next_notification_at = None
        return announce(s, a, "withdrawn", str(a.id), now) if a.notify else []
    t = lc.realarm_if_worse(view(a))
    if t is None:
        return []
    after = timing(ward_of(s, a.patient_id)).escalate_after(a.severity)
    record(uow, a, t, now, next_notification_at=now + after, acknowledged_severity=None,
           acknowledged_rise=None)
    return announce(s, a, "re-alarmed", now.isoformat(), now)


# The lifecycle states a band alert can clear from (ISA-18.2 'return to normal').
CLEARABLE = (lc.UNACKNOWLEDGED, lc.ACKNOWLEDGED)


def clear_gone(uow: UnitOfWork, pid: int, latest_mmol_l: float, policy: Policy,
               now: datetime, only: int | None = None) -> None:
    """Band alerts whose condition is gone at the latest sodium clear (ISA-18.2 'return to
    normal'): unacknowledged ones wait for an acknowledgement, acknowledged ones resolve.
    `only`: that alert alone."""
    if only is not None:
        # By primary key: found in the session when the batch loaded it already.
        one = uow.session.get(Alert, only)
        alerts = [one] if one is not None and one.patient_id == pid and \
            one.state == "active" and one.lifecycle in CLEARABLE else []
    else:
        alerts = list(uow.session.scalars(select(Alert).where(
            Alert.patient_id == pid, Alert.state == "active", Alert.lifecycle.in_(CLEARABLE))))
    for a in alerts:
        if still_present(a.rule, latest_mmol_l, policy):
            continue
        t = lc.clear(view(a))
        if t is not None:
            extra: dict[str, object] = {"next_notification_at": None}
            if t.to_state == lc.RESOLVED:
                extra["resolved_at"] = now
            record(uow, a, t, now, **extra)
