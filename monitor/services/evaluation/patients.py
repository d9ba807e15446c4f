"""Patient facts from ADT, FHIR and CSV: ward and bed, discharge, diagnoses, acute marks,
merges."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from monitor.engine.reconcile import ACTIVE, WITHDRAWN
from monitor.engine.risk import FACTOR_NAMES
from monitor.ingest.events import AcuteMarkEvent, DiagnosisEvent
from monitor.services.access.audit import audit
from monitor.storage.repos.alerts import move_alerts
from monitor.storage.repos.results import move_results
from monitor.storage.tables import (
    Alert,
    AlertEvent,
    EpisodeMark,
    MedicationRecord,
    Patient,
    RiskFactor,
    SymptomMark,
    WeightEntry,
)
from monitor.storage.uow import UnitOfWork


def apply_diagnosis(uow: UnitOfWork, pid: int, event: DiagnosisEvent, now: datetime) -> bool:
    """Record a source's statement of a coded diagnosis, replacing its earlier one (its
    status, onset, abatement, category, or why it is void); True when anything changed."""
    s = uow.session
    d = event.diagnosis
    named = d.code in FACTOR_NAMES
    row = s.scalar(select(RiskFactor).where(
        RiskFactor.patient_id == pid, RiskFactor.source == d.source.value,
        (RiskFactor.factor == d.code) if named else (RiskFactor.icd10_code == d.code)))
    if row is None:
        if d.voided:
            return False  # never known: nothing to withdraw
        row = RiskFactor(patient_id=pid, factor=d.code if named else "diagnosis",
                         icd10_code=None if named else d.code, source=d.source.value,
                         recorded_at=event.recorded_at or now, recorded_by=d.source.value,
                         active=None, encounter=False)
        s.add(row)
    facts = {"active": d.active, "onset_at": d.onset, "asserted_at": d.recorded,
             "abated_at": d.abated, "encounter": d.encounter, "voided": d.voided}
    if all(getattr(row, k) == v for k, v in facts.items()):
        return False
    for k, v in facts.items():
        setattr(row, k, v)
    row.removed_at = now if d.voided else None
    return True


def apply_acute_mark(uow: UnitOfWork, pid: int, event: AcuteMarkEvent, feed: str,
                     now: datetime) -> bool:
    """Record a feed's acute mark (CSV acute_onset); True when the patient had no mark with
    that onset yet. Audited as a clinician's mark is: it silences rate rules."""
    s = uow.session
    known = s.scalar(select(EpisodeMark.id).where(
        EpisodeMark.patient_id == pid, EpisodeMark.acute.is_(True),
        EpisodeMark.onset_at == event.onset))
    if known is not None:
        return False
    reason = f"acute_onset sent by feed {feed} ({event.position})"
    s.add(EpisodeMark(patient_id=pid, onset_at=event.onset, acute=True, reason=reason,
                      marked_by=feed[:100], marked_at=now))
    audit(uow, feed, "mark-acute", now, "patient", pid, onset=event.onset.isoformat(),
          reason=reason)
    return True


def merge(uow: UnitOfWork, old: int, survivor: int, now: datetime,
          why: str | None = None) -> None:
    """ADT^A40 (or what `why` says): results, alerts, diagnoses, acute marks, medications,
    symptom records and weights of the old identifier move to the survivor; an active alert
    of the old patient whose rule the survivor already has is withdrawn."""
    why = why or "patient merged (ADT^A40)"
    if old == survivor:
        return
    s = uow.session
    kept = set(s.scalars(select(Alert.rule).where(Alert.patient_id == survivor,
                                                  Alert.state == ACTIVE)))
    for alert in s.scalars(select(Alert).where(Alert.patient_id == old, Alert.state == ACTIVE)):
        if alert.rule in kept:
            s.add(AlertEvent(alert_id=alert.id, at=now, actor="system", action="withdrawn",
                             from_state=alert.lifecycle, to_state=WITHDRAWN,
                             reason=f"{why}; the survivor has this alert"))
            alert.state = alert.lifecycle = WITHDRAWN
            alert.withdrawn_reason = why
    move_results(s, old, survivor)
    move_alerts(s, old, survivor)
    for factor in s.scalars(select(RiskFactor).where(RiskFactor.patient_id == old)):
        factor.patient_id = survivor
    for row in [*s.scalars(select(EpisodeMark).where(EpisodeMark.patient_id == old)),
                *s.scalars(select(MedicationRecord).where(MedicationRecord.patient_id == old)),
                *s.scalars(select(SymptomMark).where(SymptomMark.patient_id == old)),
                *s.scalars(select(WeightEntry).where(WeightEntry.patient_id == old))]:
        row.patient_id = survivor
    patient = s.get(Patient, old)
    assert patient is not None
    patient.merged_into_id = survivor
    patient.updated_at = now
