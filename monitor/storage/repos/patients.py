"""Patients and wards: registered on first sight, locked while evaluated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from monitor.engine.model import PatientRef
from monitor.storage.repos.common import insert_ignore
from monitor.storage.tables import FhirPatientLink, Patient, Ward


def patient_id(session: Session, ref: PatientRef, now: datetime) -> int:
    """The patient's id, registering it when seen for the first time (no ADT needed)."""
    # Look first: nearly every message is about a patient already known (one statement).
    known = session.scalar(select(Patient.id).where(
        Patient.authority == ref.authority, Patient.identifier == ref.identifier))
    if known is not None:
        return known
    insert_ignore(session, Patient.__table__, {  # type: ignore[arg-type]
        "authority": ref.authority, "identifier": ref.identifier,
        "created_at": now, "updated_at": now,
    }, ["authority", "identifier"])
    found = session.scalar(select(Patient.id).where(
        Patient.authority == ref.authority, Patient.identifier == ref.identifier))
    assert found is not None
    return found


def lock(session: Session, pid: int) -> Patient:
    """Hold the patient's row until commit: results of one patient are evaluated one at a
    time, so two workers never evaluate the same patient on stale data (PostgreSQL row
    lock; SQLite serialises writers anyway)."""
    patient = session.scalar(select(Patient).where(Patient.id == pid).with_for_update())
    assert patient is not None
    return patient


def ward_id(session: Session, code: str, now: datetime) -> int:
    """The ward's id; an unknown ward is created with default settings."""
    known = session.scalar(select(Ward.id).where(Ward.code == code))
    if known is not None:
        return known
    insert_ignore(session, Ward.__table__, {  # type: ignore[arg-type]
        "code": code, "name": code, "created_at": now,
    }, ["code"])
    found = session.scalar(select(Ward.id).where(Ward.code == code))
    assert found is not None
    return found


def fhir_links(session: Session, fhir_ids: set[str]) -> dict[str, PatientRef]:
    """The identified patient each of these FHIR logical ids names, where one is known."""
    if not fhir_ids:
        return {}
    return {fid: PatientRef(a, i) for fid, a, i in session.execute(select(
        FhirPatientLink.fhir_id, FhirPatientLink.authority, FhirPatientLink.identifier)
        .where(FhirPatientLink.fhir_id.in_(sorted(fhir_ids))))}


def learn_fhir_link(session: Session, fhir_id: str, ref: PatientRef, now: datetime
                    ) -> PatientRef:
    """Store that `fhir_id` names `ref`, unless a link exists; returns the stored one (a
    concurrent worker's insert wins the race on the primary key, harmlessly)."""
    insert_ignore(session, FhirPatientLink.__table__, {  # type: ignore[arg-type]
        "fhir_id": fhir_id, "authority": ref.authority, "identifier": ref.identifier,
        "linked_at": now}, ["fhir_id"])
    return fhir_links(session, {fhir_id})[fhir_id]


def find_patient(session: Session, identifiers: Sequence[tuple[str, str]],
                 fhir_id: str | None, aliases: Mapping[str, str]) -> Patient | None:
    """The patient an EHR names: by one of its identifiers (system, value; the system under
    its canonical name, SODIUM_PATIENT_AUTHORITIES), else by the FHIR logical id the feeds
    linked (fhir_patient_links). A merged-away patient answers as the one it merged into."""
    found: Patient | None = None
    for system, value in identifiers:
        if not value:
            continue
        found = session.scalar(select(Patient).where(
            Patient.authority == aliases.get(system, system), Patient.identifier == value))
        if found is not None:
            break
    if found is None and fhir_id:
        found = session.scalar(select(Patient).join(FhirPatientLink, and_(
            FhirPatientLink.authority == Patient.authority,
            FhirPatientLink.identifier == Patient.identifier)).where(
            FhirPatientLink.fhir_id == fhir_id.removeprefix("Patient/")))
    return None if found is None else survivor(session, found)


def survivor(session: Session, patient: Patient) -> Patient:
    """The record a patient now is: merged away (ADT^A40, or a FHIR Patient that named
    it), it lives on as the one it merged into."""
    for _ in range(10):  # merges chain rarely; a cycle would be a bug, not a loop
        if patient.merged_into_id is None:
            break
        merged = session.get(Patient, patient.merged_into_id)
        if merged is None:
            break
        patient = merged
    return patient
