"""Service counters that only ever go up (Prometheus `_total` families): kept in a row of
their own, so purging or finishing the rows they count does not lower them."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from monitor.storage.base import Base, BigId


class ServiceCounter(Base):
    __tablename__ = "service_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigId, default=0)
