"""Medication orders and administrations, and clinicians' records of severe symptoms and of
body weights."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from monitor.storage.base import Base, UTCDateTime


class MedicationRecord(Base):
    """The latest version of one order or administration (engine.medication.Medication),
    as its feed sent it; `med_class` None: unknown, shown as such."""

    __tablename__ = "medications"
    __table_args__ = (
        UniqueConstraint("source_feed", "med_key", name="uq_medications_feed_key"),
        Index("ix_medications_patient_at", "patient_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    source_feed: Mapped[str] = mapped_column(String(100))
    med_key: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))  # order / administration
    status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)
    local_code: Mapped[str | None] = mapped_column(String(100))
    code_system: Mapped[str | None] = mapped_column(String(200))
    rxnorm: Mapped[str | None] = mapped_column(String(32))
    amount: Mapped[str | None] = mapped_column(String(50))
    unit: Mapped[str | None] = mapped_column(String(50))
    route: Mapped[str | None] = mapped_column(String(100))
    med_class: Mapped[str | None] = mapped_column(String(32))
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SymptomMark(Base):
    """A clinician's record that the patient has severe symptoms of hyponatremia (vomiting,
    seizures, somnolence, coma: Spasovski 2014): hypertonic saline is then indicated."""

    __tablename__ = "symptom_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    marked_by: Mapped[str] = mapped_column(String(100))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WeightEntry(Base):
    """A body weight (kg) a physician or nurse entered on the patient page; a weight a feed
    sends is a result (analyte body-weight). The latest of either, by its time, is used."""

    __tablename__ = "body_weights"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    weight_kg: Mapped[float] = mapped_column(Float)
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entered_by: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
