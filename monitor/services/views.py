"""Read models for the dashboard: the alert board, the ward census, the patient page.
Every query is scoped to the principal's wards."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from monitor.alerts.lifecycle import OPEN
from monitor.engine.policy import Policy
from monitor.engine.risk import factors_from_diagnoses
from monitor.services.access import Principal, scoped_patients, visible_patient
from monitor.storage.tables import Alert, AlertEvent, Patient, Result, RiskFactor, Ward

SEVERITY_ORDER = case((Alert.severity == "critical", 0), else_=1)


def board(s: Session, p: Principal, now: datetime, limit: int = 500) -> list[dict[str, Any]]:
    """Active alerts of my wards: critical first, then newest."""
    q = (select(Alert, Patient, Ward.code)
         .join(Patient, Patient.id == Alert.patient_id)
         .outerjoin(Ward, Ward.id == Patient.ward_id)
         .where(Alert.state == "active", Alert.lifecycle.in_(OPEN))
         .order_by(SEVERITY_ORDER, Alert.created_at.desc()).limit(limit))
    rows = []
    for a, patient, ward in s.execute(scoped_patients(q, p)):
        rows.append({"alert": a, "patient": patient, "ward": ward,
                     "age_min": int((now - a.created_at).total_seconds() // 60)})
    return rows


@dataclass
class CensusRow:
    patient: Patient
    latest: float | None = None
    latest_at: datetime | None = None
    change_24h: float | None = None
    risk: list[str] = field(default_factory=list)
    sparkline: list[tuple[datetime, float]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    overdue: bool = False
    spark: str = ""  # the sparkline, rendered by the web layer


def census(s: Session, p: Principal, ward_code: str, policy: Policy,
           now: datetime) -> list[CensusRow] | None:
    """One row per patient of a ward (None when the ward is not visible)."""
    ward = s.scalar(select(Ward).where(Ward.code == ward_code))
    if ward is None or (p.wards is not None and ward.id not in p.wards):
        return None
    patients = list(s.scalars(select(Patient).where(
        Patient.ward_id == ward.id, Patient.discharged_at.is_(None),
        Patient.merged_into_id.is_(None)).order_by(Patient.bed, Patient.identifier)))
    ids = [x.id for x in patients]
    rows = {x.id: CensusRow(x) for x in patients}
    since = now - timedelta(days=7)
    # Columns, not ORM objects: a census reads thousands of values and needs three fields.
    for pid, at, value in s.execute(select(
            Result.patient_id, Result.collected_at, Result.value_mmol_l).where(
            Result.patient_id.in_(ids), Result.analyte == "sodium", Result.is_current.is_(True),
            Result.removed.is_(False), Result.collected_at >= since)
            .order_by(Result.patient_id, Result.collected_at)):
        if value is not None:
            rows[pid].sparkline.append((at, value))
    for a in s.scalars(select(Alert).where(Alert.patient_id.in_(ids), Alert.state == "active",
                                           Alert.lifecycle.in_(OPEN))):
        rows[a.patient_id].alerts.append(a)
    codes: dict[int, set[str]] = {}
    for pid, code, factor in s.execute(select(RiskFactor.patient_id, RiskFactor.icd10_code,
                                              RiskFactor.factor).where(
            RiskFactor.patient_id.in_(ids), RiskFactor.active.is_(True))):
        codes.setdefault(pid, set()).add(code or factor)
    for row in rows.values():
        if row.sparkline:
            row.latest_at, row.latest = row.sparkline[-1]
            day = [v for t, v in row.sparkline if t >= row.latest_at - timedelta(hours=24)]
            row.change_24h = row.latest - min(day) if day else None
        row.risk = sorted(factors_from_diagnoses(codes.get(row.patient.id, set()), policy))
        row.overdue = any(a.rule == "MEASUREMENT_OVERDUE" for a in row.alerts)
    return list(rows.values())


def patient_detail(s: Session, p: Principal, patient_id: int) -> dict[str, Any] | None:
    patient = visible_patient(s, p, patient_id)
    if patient is None:
        return None
    results = list(s.scalars(select(Result).where(Result.patient_id == patient_id)
                             .order_by(Result.collected_at, Result.arrival_seq)))
    alerts = list(s.scalars(select(Alert).where(Alert.patient_id == patient_id)
                            .order_by(Alert.created_at.desc())))
    events = {a.id: list(s.scalars(select(AlertEvent).where(AlertEvent.alert_id == a.id)
                                   .order_by(AlertEvent.id))) for a in alerts}
    risks = list(s.scalars(select(RiskFactor).where(RiskFactor.patient_id == patient_id)
                           .order_by(RiskFactor.recorded_at)))
    ward = s.get(Ward, patient.ward_id) if patient.ward_id else None
    return {"patient": patient, "ward": ward, "results": results, "alerts": alerts,
            "events": events, "risks": risks}


def ward_codes(s: Session, p: Principal) -> list[str]:
    q = select(Ward.code).order_by(Ward.code)
    if p.wards is not None:
        q = q.where(Ward.id.in_(p.wards))
    return list(s.scalars(q))


def count_active(s: Session, p: Principal) -> int:
    q = (select(func.count()).select_from(Alert).join(Patient, Patient.id == Alert.patient_id)
         .where(Alert.state == "active", Alert.lifecycle.in_(OPEN)))
    return int(s.scalar(scoped_patients(q, p)) or 0)
