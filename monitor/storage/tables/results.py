"""The time series: one row per version of a lab result."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from monitor.storage.base import Base, BigId, UTCDateTime


class Result(Base):
    """A version of a result. Exactly one version per identity is current (`is_current`);
    a correction supersedes the earlier one, a removal leaves a current tombstone."""

    __tablename__ = "results"
    __table_args__ = (
        # The same inbox row applied twice is the same version: redelivery changes nothing.
        UniqueConstraint("source_feed", "result_key", "arrival_seq"),
        Index("ix_results_patient_analyte_collected", "patient_id", "analyte", "collected_at"),
        # A batch reads the stored versions of the results it touches by key.
        Index("ix_results_result_key", "result_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    source_feed: Mapped[str] = mapped_column(String(100))
    result_key: Mapped[str] = mapped_column(String(300))
    # Arrival order: inbox id x 2^20 + position in the message (see `arrival_seq`).
    arrival_seq: Mapped[int] = mapped_column(BigInteger)
    inbox_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("inbox.id"))
    analyte: Mapped[str] = mapped_column(String(32))
    loinc_code: Mapped[str | None] = mapped_column(String(20))
    specimen: Mapped[str | None] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(16))  # lab / poc / urine
    value_raw: Mapped[str] = mapped_column(String(100))
    unit_raw: Mapped[str] = mapped_column(String(50))
    value_mmol_l: Mapped[float | None] = mapped_column(Float)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A urine output: the start of the interval its volume was collected over (collected_at
    # is the end); None for every other analyte.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    # The feed sent no id (a CSV or JSON row without result_id): the key was built from the
    # content, and a different value under it is refused (engine.versions).
    key_inferred: Mapped[bool] = mapped_column(Boolean, default=False,
                                               server_default=false())
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The laboratory's words when it flagged this version's specimen as contaminated or
    # unsuitable: shown as suspect, never counted (cut to 200 by the adapters).
    flag: Mapped[str | None] = mapped_column(String(200))


# Positions within one payload: the intake size caps keep a payload far below this many
# results, so the sequence never collides with the next inbox row's and has no other cap
# (63 bits leave 2^43 inbox rows).
POSITIONS_PER_PAYLOAD = 1 << 20


def arrival_seq(inbox_id: int, position: int) -> int:
    """The order in which versions arrived: inbox sequence, then order in the payload."""
    if not 0 <= position < POSITIONS_PER_PAYLOAD:
        raise ValueError(f"position {position} beyond {POSITIONS_PER_PAYLOAD} per payload")
    return inbox_id * POSITIONS_PER_PAYLOAD + position
