"""Alerts and their append-only history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from monitor.storage.base import Base, BigId, UTCDateTime

# The engine's rules: one active alert per patient, rule and overcorrection event (the
# event is "" for the rules that have none, so for them one per patient and rule).
# MEASUREMENT_OVERDUE is the alerting service's and keeps its own invariant.
ENGINE_ALERT = ("state = 'active' AND rule IN ('OVERCORRECTION_24H', 'OVERCORRECTION_48H', "
                "'PROJECTED_OVERCORRECTION', 'SEVERE_HYPONATREMIA', 'FALLING_SODIUM', "
                "'HYPERNATREMIA', 'HYPERNATREMIA_LOWERED_TOO_FAST', 'AQUARESIS_WARNING', "
                "'HYPERTONIC_SALINE_MILD')")


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_patient_rule_state", "patient_id", "rule", "state"),
        Index("uq_alerts_active_event", "patient_id", "rule", "event", unique=True,
              postgresql_where=text(ENGINE_ALERT), sqlite_where=text(ENGINE_ALERT)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    rule: Mapped[str] = mapped_column(String(64))
    # Rate rules: the key of the finding that opened the overcorrection event.
    event: Mapped[str] = mapped_column(String(440), default="", server_default="")
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # active / withdrawn / resolved
    lifecycle: Mapped[str] = mapped_column(String(32))  # ISA-18.2 state (issue 5)
    triggering_result_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("results.id"))
    triggered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    value_mmol_l: Mapped[float] = mapped_column(Float)
    rise_mmol_l: Mapped[float | None] = mapped_column(Float)
    window_hours: Mapped[float | None] = mapped_column(Float)
    limit_mmol_l: Mapped[float | None] = mapped_column(Float)
    risk_tier: Mapped[str] = mapped_column(String(16))
    risk_factors: Mapped[list[str]] = mapped_column(JSON, default=list)
    mixed_methods: Mapped[bool] = mapped_column(Boolean, default=False)
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    notify: Mapped[bool] = mapped_column(Boolean, default=True)
    policy: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    # The evidence (results that satisfy the rule: the alert holds while any do) is in
    # alert_evidence; the alert keeps its summary, so a new finding costs the same on the
    # first day of a stay as on the fiftieth. Keys are measurement keys (feed|result key);
    # MEASUREMENT_OVERDUE keeps the gap it is about in `latest_key`.
    evidence_count: Mapped[int] = mapped_column(Integer, default=0)
    first_key: Mapped[str | None] = mapped_column(String(420))
    worst_key: Mapped[str | None] = mapped_column(String(420))
    latest_key: Mapped[str | None] = mapped_column(String(420))
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_value: Mapped[float | None] = mapped_column(Float)
    # What the alert looked like when acknowledged: re-alarm when it gets worse than this.
    acknowledged_severity: Mapped[str | None] = mapped_column(String(16))
    acknowledged_rise: Mapped[float | None] = mapped_column(Float)
    shelved_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    next_notification_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertEvidence(Base):
    """One finding that holds an engine alert: the rule holds at this result."""

    __tablename__ = "alert_evidence"
    __table_args__ = (
        UniqueConstraint("alert_id", "result_key"),
        Index("ix_alert_evidence_alert_collected", "alert_id", "collected_at"),
        Index("ix_alert_evidence_alert_rank", "alert_id", "rank"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    result_key: Mapped[str] = mapped_column(String(420))
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finding: Mapped[dict[str, Any]] = mapped_column(JSON)
    # How bad the finding is (`evidence_rank`), so the worst is one indexed look-up.
    rank: Mapped[float] = mapped_column(Float)


class AlertEvent(Base):
    """Append-only: who did what to an alert, when and why."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Notice(Base):
    """A warning about the service rather than a patient (FEED_SILENT, NO_ON_CALL), for
    admins. One open notice per (kind, subject)."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_kind_subject_open", "kind", "subject", "cleared_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
