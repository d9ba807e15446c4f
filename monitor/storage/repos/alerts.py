"""Alerts moved with their patient (ADT^A40). Loading and saving engine alerts is the
patient aggregate's (repos/ledgers.py)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from monitor.storage.tables import Alert


def move_alerts(session: Session, old_pid: int, new_pid: int) -> None:
    session.execute(update(Alert).where(Alert.patient_id == old_pid)
                    .values(patient_id=new_pid))
