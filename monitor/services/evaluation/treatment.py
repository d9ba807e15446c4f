"""Medication orders and administrations from the feeds: classified, stored, then stated to
the patient's ledger (the code replay runs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from monitor.engine.medication import Medication
from monitor.engine.policy import Policy
from monitor.engine.treatment import classify
from monitor.ingest.events import MedicationEvent
from monitor.storage.repos.treatment import (
    ledger_key,
    patient_medications,
    patient_symptoms,
    store_medication,
)
from monitor.storage.tables import MedicationRecord, SymptomMark
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
