"""Feeds, the persist-first inbox, rejects and process heartbeats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from monitor.storage.base import Base, BigId, UTCDateTime


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # hl7 / fhir / json / csv
    silent_after_s: Mapped[int] = mapped_column(Integer, default=1800)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # MLLP feed authentication (monitor/listener/auth.py): the certificate CN or DNS SAN
    # bound to the feed, the networks it may connect from without one, and what it may do.
    cert_cn: Mapped[str | None] = mapped_column(String(200), unique=True)
    allow_ips: Mapped[list[str] | None] = mapped_column(JSON)
    permissions: Mapped[str] = mapped_column(String(100), default="results",
                                             server_default="results")


class InboxItem(Base):
    """Every inbound payload, committed before it is acknowledged. `id` is the arrival order."""

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_state_received", "state", "received_at"),
        # Workers claim the oldest pending rows: in id order through this small index, a
        # claim reads its batch and stops, however long the inbox or its backlog.
        Index("ix_inbox_pending", "id", postgresql_where=text("state = 'pending'"),
              sqlite_where=text("state = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    format: Mapped[str] = mapped_column(String(16))
    feed: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    # What the intake parsed (monitor.ingest.codec): the worker does not parse it again.
    items: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A worker that claimed the row holds it until then; past it (the worker died) the row
    # may be claimed again. Each claim counts an attempt, so a row that kills its worker
    # is parked after a few, instead of being retried for ever.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InboxPatient(Base):
    """Which patients a pending inbox row concerns, written when it is received and removed
    when the row is done or parked: a worker finds a patient's earlier pending rows here, so
    each patient's rows are applied in arrival order across workers."""

    __tablename__ = "inbox_patients"

    inbox_id: Mapped[int] = mapped_column(BigId, ForeignKey("inbox.id"), primary_key=True)
    patient_key: Mapped[str] = mapped_column(String(210), primary_key=True, index=True)


class RejectRow(Base):
    __tablename__ = "rejects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inbox_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("inbox.id"), index=True)
    source: Mapped[str] = mapped_column(String(200))
    position: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retried_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retry_inbox_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("inbox.id"))


class UnmappedCodeCount(Base):
    """How often a feed sent a code the service read and did not use (an Observation of
    another test, a diagnosis no risk factor maps, a Condition in another code system): one
    row per (feed, system, code), counted up in the transaction that processed the payload,
    for the admin page and `check` (monitor/services/intake/unmapped.py)."""

    __tablename__ = "unmapped_codes"

    feed: Mapped[str] = mapped_column(String(100), primary_key=True)
    system: Mapped[str] = mapped_column(String(200), primary_key=True)
    code: Mapped[str] = mapped_column(String(100), primary_key=True)
    seen: Mapped[int] = mapped_column(BigId, default=0)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Heartbeat(Base):
    """Liveness of long-running processes (scheduler, listener), for `sodium-monitor check`."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
