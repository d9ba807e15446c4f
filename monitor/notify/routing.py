"""Who receives an alert event: the ward's nurses, the on-call physician, or the fallback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.alerts.escalation import WardTiming
from monitor.storage.tables import OnCallShift, Patient, User, Ward, WardMembership

FIRST_LINE = ("raised", "re-alarmed", "withdrawn", "unshelved")


@dataclass(frozen=True)
class Route:
    recipients: list[str]  # usernames
    no_on_call: bool = False  # escalation found nobody on call


def ward_of(session: Session, patient_id: int) -> Ward | None:
    patient = session.get(Patient, patient_id)
    return session.get(Ward, patient.ward_id) if patient and patient.ward_id else None


def timing(ward: Ward | None) -> WardTiming:
    if ward is None:
        return WardTiming()
    return WardTiming(timedelta(seconds=ward.escalate_critical_after_s),
                      timedelta(seconds=ward.escalate_warning_after_s),
                      timedelta(seconds=ward.repeat_every_s))


def nurses(session: Session, ward: Ward) -> list[str]:
    return list(session.scalars(
        select(User.username).join(WardMembership, WardMembership.user_id == User.id)
        .where(WardMembership.ward_id == ward.id, User.role == "nurse",
               User.active.is_(True)).order_by(User.username)))


def on_call(session: Session, ward: Ward, now: datetime) -> list[str]:
    return list(session.scalars(
        select(User.username).join(OnCallShift, OnCallShift.user_id == User.id)
        .where(OnCallShift.ward_id == ward.id, OnCallShift.starts_at <= now,
               OnCallShift.ends_at > now, User.active.is_(True)).order_by(User.username)))


def admins(session: Session) -> list[str]:
    return list(session.scalars(select(User.username).where(
        User.role == "admin", User.active.is_(True)).order_by(User.username)))


def route(session: Session, ward: Ward | None, event: str, escalated: bool,
          now: datetime) -> Route:
    """Nurses for a new alert; the on-call physician (or the fallback) once escalated."""
    if ward is None:
        return Route(admins(session))  # a patient on no known ward: someone must see it
    people = nurses(session, ward) if event in FIRST_LINE else []
    if event in ("escalated", "repeated") or (escalated and event in FIRST_LINE):
        physicians = on_call(session, ward, now)
        if physicians:
            people += physicians
        else:
            people += [ward.fallback_contact] if ward.fallback_contact else []
            return Route(sorted(set(people)), no_on_call=True)
    return Route(sorted(set(people)))
