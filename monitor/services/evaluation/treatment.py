"""Medication orders and administrations from the feeds: classified, stored, then stated to
the patient's ledger (the code replay runs); body weights entered on the patient page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from monitor.engine.medication import Medication
from monitor.engine.policy import Policy
from monitor.engine.treatment import classify
from monitor.ingest.checks import WEIGHT_MAX_KG, WEIGHT_MIN_KG
from monitor.ingest.events import MedicationEvent
from monitor.services.access.audit import audit
from monitor.storage.repos.treatment import (
    latest_weight,
    ledger_key,
    medication_of,
    patient_medications,
    patient_symptoms,
    store_medication,
)
from monitor.storage.tables import MedicationRecord, SymptomMark, WeightEntry
from monitor.storage.uow import UnitOfWork


def medication_since(med: Medication, policy: Policy) -> datetime:
    """From when a batch re-evaluates for this medication: the sodium it may follow."""
    return med.at - timedelta(hours=policy.treatment.sodium_lookback_hours)


def apply_medication(uow: UnitOfWork, pid: int, event: MedicationEvent, feed: str,
                     code_map: Mapping[str, str], policy: Policy, now: datetime
                     ) -> Medication | None:
    """Store a version of an order or administration with its class; the medication as the
    ledger holds it (keyed per feed) when anything changed, else None."""
    med = classify(event.medication, code_map, policy)  # as replay classifies it
    if not store_medication(uow.session, pid, feed, med, event.position, event.test, now):
        return None
    return replace(med, key=ledger_key(feed, med.key))


def patient_treatment(uow: UnitOfWork, pid: int
                      ) -> tuple[list[MedicationRecord], list[SymptomMark]]:
    """The patient's orders and administrations and severe-symptom records, newest first."""
    return patient_medications(uow.session, pid), patient_symptoms(uow.session, pid)


def record_body_weight(uow: UnitOfWork, pid: int, weight_kg: float, measured: datetime | None,
                       actor: str, now: datetime) -> WeightEntry:
    """A physician or nurse enters the patient's body weight (kg) measured at `measured`
    (None: now); audited. No rule reads it, so nothing is re-evaluated."""
    if not WEIGHT_MIN_KG <= weight_kg <= WEIGHT_MAX_KG:
        raise ValueError(f"a body weight must lie within {WEIGHT_MIN_KG:g}-{WEIGHT_MAX_KG:g} kg")
    measured = now if measured is None else measured
    if measured > now:
        raise ValueError("a body weight cannot be entered for a time in the future")
    row = WeightEntry(patient_id=pid, weight_kg=weight_kg, measured_at=measured,
                      entered_by=actor, entered_at=now)
    uow.session.add(row)
    uow.session.flush()
    audit(uow, actor, "record-body-weight", now, "patient", pid, weight_kg=weight_kg,
          measured=measured.isoformat())
    uow.commit()
    return row


def infusion_inputs(uow: UnitOfWork, pid: int, medications: list[MedicationRecord]
                    ) -> tuple[list[Medication], tuple[float, datetime, str] | None]:
    """What the infusion prediction reads: the page's orders and administrations as the
    engine sees them, and the latest body weight (kg, measured at, from whom)."""
    return [medication_of(m) for m in medications], latest_weight(uow.session, pid)
