"""Wards, patients, their risk factors and clinician marks on episodes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from monitor.storage.base import Base, UTCDateTime


class Ward(Base):
    __tablename__ = "wards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    policy: Mapped[str | None] = mapped_column(String(200))
    # Escalation timings in seconds (issue 5 defaults: critical 10 min, warning 30 min).
    escalate_critical_after_s: Mapped[int] = mapped_column(Integer, default=600)
    escalate_warning_after_s: Mapped[int] = mapped_column(Integer, default=1800)
    repeat_every_s: Mapped[int] = mapped_column(Integer, default=600)
    fallback_contact: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("authority", "identifier"),
        # A batch looks its patients up by identifier (IN lists): led by the selective
        # column, whatever the statistics say (a hospital has one or two authorities).
        Index("ix_patients_identifier_authority", "identifier", "authority"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    authority: Mapped[str] = mapped_column(String(100), default="")
    identifier: Mapped[str] = mapped_column(String(100))
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("wards.id"), index=True)
    room: Mapped[str | None] = mapped_column(String(50))  # PV1-3.2
    bed: Mapped[str | None] = mapped_column(String(50))  # PV1-3.3
    # The name, birth date and sex as the feeds send them (PID-5/7/8, FHIR Patient): shown
    # on the pages; notifications and logs never carry them (monitor/notify/content.py).
    display_name: Mapped[str | None] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(16))
    discharged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The latest end of a stay the engine has seen (a discharge, or a gap without sodium
    # longer than the episode gap): kept across readmissions, nothing collected up to it
    # holds a standing alert (engine.stays). discharged_at is cleared at readmission.
    stay_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FhirPatientLink(Base):
    """What a FHIR Patient resource said: its logical id names the patient with this
    identifier. Learnt from every Patient seen, in any payload or file, so that an
    Observation's "Patient/{id}" resolves to the same patient whatever the file layout. One
    FHIR source per hospital is assumed (logical ids are unique per server)."""

    __tablename__ = "fhir_patient_links"

    fhir_id: Mapped[str] = mapped_column(String(100), primary_key=True)  # FHIR ids: <= 64
    authority: Mapped[str] = mapped_column(String(100), default="")
    identifier: Mapped[str] = mapped_column(String(100))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RiskFactor(Base):
    __tablename__ = "risk_factors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    factor: Mapped[str] = mapped_column(String(64))
    # ICD-10 ("K746") or SNOMED CT ("SCT:" and up to 18 digits) diagnosis code.
    icd10_code: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))  # ADT / FHIR / clinician / lab-derived
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The source's latest statement of the diagnosis (engine.model.Diagnosis): `active` is
    # its clinical status; these bound its span (engine.risk.held_span).
    onset_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    asserted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the sender's date
    abated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    encounter: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Why it is not true at all (refuted, entered in error, removed): then it never counts.
    voided: Mapped[str | None] = mapped_column(String(200))


class EpisodeMark(Base):
    """A clinician's statement of acute hyponatremia (onset < 48 h, documented)."""

    __tablename__ = "episode_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    # The documented onset (the time of marking when none was given): the rate rules spare
    # the windows whose lowest value lies within the policy's acute_hours of it.
    onset_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Marks made before 0008: a time inside the episode the mark then covered whole. Kept for
    # the record; new marks leave it empty.
    episode_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acute: Mapped[bool] = mapped_column(Boolean, default=True)
    reason: Mapped[str] = mapped_column(Text)
    marked_by: Mapped[str] = mapped_column(String(100))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime)
