"""Who may see and do what. Ward scoping is enforced here, in the queries, not only in the
templates: a nurse of ward A gets 'not found' for ward B's patients and alerts. A session
opened by a SMART launch from the EHR sees the launch's patient only (`patients`), on no
ward's census."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Select, select

from monitor.storage.repos.patients import survivor
from monitor.storage.tables import Alert, OnCallShift, Patient, User, WardMembership
from monitor.storage.uow import UnitOfWork

Q = TypeVar("Q", bound=Select)  # type: ignore[type-arg]

CAN = {
    "view": {"nurse", "physician", "admin"},
    "acknowledge": {"nurse", "physician", "admin"},
    "shelve": {"nurse", "physician", "admin"},
    "unshelve": {"nurse", "physician", "admin"},
    "resolve": {"physician", "admin"},
    "edit-risk": {"physician", "admin"},
    "mark-acute": {"physician", "admin"},
    "record-symptoms": {"physician", "admin"},
    "record-weight": {"nurse", "physician", "admin"},
    "admin": {"admin"},
    "ingest": {"feed", "admin"},
}


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    username: str
    role: str
    wards: frozenset[int] | None  # None: every ward (admins)
    # Set for a session launched from the EHR (SMART): only these patients, whatever their
    # ward; such a session has no wards (frozenset()), so no census or ward list shows.
    patients: frozenset[int] | None = None

    def can(self, action: str) -> bool:
        return self.role in CAN[action]


class Forbidden(Exception):
    """The role does not allow the action."""


def principal(uow: UnitOfWork, user: User, now: datetime,
              patient_id: int | None = None) -> Principal:
    """A user's wards: memberships, plus the wards a physician is on call for now; or, for a
    session launched for one patient (`patient_id`), that patient alone."""
    if patient_id is not None:
        return Principal(user.id, user.username, user.role, frozenset(),
                         frozenset({_survivor(uow, patient_id)}))
    if user.role == "admin":
        return Principal(user.id, user.username, user.role, None)
    s = uow.session
    wards = set(s.scalars(select(WardMembership.ward_id).where(
        WardMembership.user_id == user.id)))
    if user.role == "physician":
        wards |= set(s.scalars(select(OnCallShift.ward_id).where(
            OnCallShift.user_id == user.id, OnCallShift.starts_at <= now,
            OnCallShift.ends_at > now)))
    return Principal(user.id, user.username, user.role, frozenset(wards))


def _survivor(uow: UnitOfWork, patient_id: int) -> int:
    """The patient a launched session's patient now is, should it have been merged away."""
    patient = uow.session.get(Patient, patient_id)
    return patient_id if patient is None else survivor(uow.session, patient).id


def require(p: Principal, action: str) -> None:
    if not p.can(action):
        raise Forbidden(f"a {p.role} may not {action}")


def scoped_patients(q: Q, p: Principal) -> Q:
    """Restrict a query that involves Patient to the principal's wards (or patients)."""
    if p.patients is not None:
        return q.where(Patient.id.in_(p.patients))
    if p.wards is None:
        return q
    return q.where(Patient.ward_id.in_(p.wards))


def visible_patient(uow: UnitOfWork, p: Principal, patient_id: int) -> Patient | None:
    found: Patient | None = uow.session.scalar(
        scoped_patients(select(Patient).where(Patient.id == patient_id), p))
    return found


def visible_alert(uow: UnitOfWork, p: Principal, alert_id: int) -> Alert | None:
    q = select(Alert).join(Patient, Patient.id == Alert.patient_id).where(Alert.id == alert_id)
    found: Alert | None = uow.session.scalar(scoped_patients(q, p))
    return found
