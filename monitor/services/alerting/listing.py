"""`alerts list`: the stored alerts in the shape replay prints, for line-by-line comparison."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from monitor.notify.alert_shape import alert_json
from monitor.storage.tables import Alert, Patient
from monitor.storage.uow import UnitOfWork


def list_alerts(uow: UnitOfWork, patient: str | None = None,
                state: str = "active", *, result_key: bool = False,
                ) -> Iterator[dict[str, Any]]:
    """Alerts, oldest trigger first; `active` is every alert neither withdrawn nor resolved."""
    q = select(Alert, Patient).join(Patient, Patient.id == Alert.patient_id)
    if patient:
        q = q.where(Patient.identifier == patient)
    if state != "all":
        q = q.where(Alert.state == state)
    for alert, owner in uow.session.execute(q.order_by(Patient.identifier, Alert.triggered_at,
                                                       Alert.rule)):
        yield alert_json(alert, owner, result_key=result_key)
