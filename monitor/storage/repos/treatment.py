"""Medication orders and administrations, severe-symptom records and body weights, in
storage."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.engine.medication import (
    VOID_STATUSES,
    Medication,
    MedicationClass,
    MedicationKind,
)
from monitor.engine.model import Analyte
from monitor.engine.treatment import RULED_CLASSES
from monitor.storage.repos.common import among
from monitor.storage.tables import MedicationRecord, Result, SymptomMark, WeightEntry


def ledger_key(feed: str, med_key: str) -> str:
    """A medication's identity in a patient's ledger: unique per feed, as results are."""
    return f"{feed}|{med_key}"


def store_medication(s: Session, pid: int, feed: str, med: Medication, position: str,
                     test: bool, now: datetime) -> bool:
    """Record a version of an order or administration (classified), replacing the feed's
    earlier one of the same key; True when anything changed."""
    row = s.scalar(select(MedicationRecord).where(
        MedicationRecord.source_feed == feed, MedicationRecord.med_key == med.key))
    facts: dict[str, Any] = {
        "patient_id": pid, "kind": med.kind.value, "status": med.status, "at": med.at,
        "text": med.text, "local_code": med.local_code, "code_system": med.code_system,
        "rxnorm": med.rxnorm, "amount": med.amount, "unit": med.unit, "route": med.route,
        "med_class": None if med.med_class is None else med.med_class.value, "test": test}
    if row is None:
        s.add(MedicationRecord(source_feed=feed, med_key=med.key, position=position,
                               received_at=now, **facts))
        return True
    if all(getattr(row, k) == v for k, v in facts.items()):
        return False
    for k, v in facts.items():
        setattr(row, k, v)
    row.position, row.received_at = position, now
    return True


def medication_of(r: Any) -> Medication:
    return Medication(ledger_key(r.source_feed, r.med_key), MedicationKind(r.kind), r.at,
                      r.text, r.status, r.local_code, r.code_system, r.rxnorm, r.amount,
                      r.unit, r.route,
                      None if r.med_class is None else MedicationClass(r.med_class))


def ruled_medications(s: Session, pids: Iterable[int]) -> dict[int, dict[str, Medication]]:
    """Each patient's medications of the classes a rule reads, by ledger key."""
    found: dict[int, dict[str, Medication]] = {}
    for r in s.execute(select(MedicationRecord).where(
            among(s, MedicationRecord.patient_id, pids),
            among(s, MedicationRecord.med_class, sorted(c.value for c in RULED_CLASSES)))
            ).scalars():
        med = medication_of(r)
        found.setdefault(r.patient_id, {})[med.key] = med
    return found


def severe_symptoms(s: Session, pids: Iterable[int]) -> dict[int, list[datetime]]:
    """When clinicians observed severe symptoms, per patient."""
    found: dict[int, list[datetime]] = {}
    for pid, at in s.execute(select(SymptomMark.patient_id, SymptomMark.observed_at).where(
            among(s, SymptomMark.patient_id, pids))):
        found.setdefault(pid, []).append(at)
    return {pid: sorted(set(times)) for pid, times in found.items()}


def patient_medications(s: Session, pid: int, limit: int = 200) -> list[MedicationRecord]:
    """The patient's orders and administrations, newest first, for the patient page."""
    return list(s.scalars(select(MedicationRecord).where(MedicationRecord.patient_id == pid)
                          .order_by(MedicationRecord.at.desc(), MedicationRecord.id.desc())
                          .limit(limit)))


def medications_since(s: Session, pid: int, since: datetime) -> list[MedicationRecord]:
    """The patient's orders and administrations at or after `since`, oldest first: what the
    chart's window can draw (ix_medications_patient_at bounds the scan)."""
    return list(s.scalars(select(MedicationRecord).where(
        MedicationRecord.patient_id == pid, MedicationRecord.at >= since)
        .order_by(MedicationRecord.at, MedicationRecord.id)))


def patient_symptoms(s: Session, pid: int) -> list[SymptomMark]:
    """The patient's severe-symptom records, newest first, for the patient page."""
    return list(s.scalars(select(SymptomMark).where(SymptomMark.patient_id == pid)
                          .order_by(SymptomMark.observed_at.desc(), SymptomMark.id.desc())))


def vaptan_times(s: Session, pids: Iterable[int]) -> dict[int, list[datetime]]:
    """When each patient's vaptans were ordered or given (cancelled ones left out), for the
    monitoring interval (engine.sampling)."""
    found: dict[int, list[datetime]] = {}
    for pid, at in s.execute(select(MedicationRecord.patient_id, MedicationRecord.at).where(
            MedicationRecord.patient_id.in_(list(pids)),
            MedicationRecord.med_class == MedicationClass.VAPTAN.value,
            MedicationRecord.status.not_in(sorted(VOID_STATUSES)))):
        found.setdefault(pid, []).append(at)
    return found


def latest_weight(s: Session, pid: int) -> tuple[float, datetime, str] | None:
    """The patient's latest body weight (kg), when it was measured, and who gave it ("entered
    by <user>" or the feed's name): entered on the page or received, whichever is later."""
    entered = s.scalars(select(WeightEntry).where(WeightEntry.patient_id == pid)
                        .order_by(WeightEntry.measured_at.desc(), WeightEntry.id.desc())
                        .limit(1)).first()
    received = s.scalars(select(Result).where(
        Result.patient_id == pid, Result.analyte == Analyte.BODY_WEIGHT.value,
        Result.is_current.is_(True), Result.removed.is_(False), Result.flag.is_(None),
        Result.value_mmol_l.is_not(None))
        .order_by(Result.collected_at.desc(), Result.id.desc()).limit(1)).first()
    found = [] if entered is None else [
        (entered.weight_kg, entered.measured_at, f"entered by {entered.entered_by}")]
    if received is not None and received.value_mmol_l is not None:
        found.append((received.value_mmol_l, received.collected_at, received.source_feed))
    return max(found, key=lambda w: w[1], default=None)
