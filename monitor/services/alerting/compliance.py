"""Compliance figures per ward (the Joint Commission's NPSG.02.03.01 asks hospitals to set,
measure and improve the time from a critical result to the clinician who acts on it)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from monitor.storage.base import UTCDateTime
from monitor.storage.tables import Alert, Delivery, Patient, Ward
from monitor.storage.uow import UnitOfWork

INTERVALS = ("collected_to_raised", "raised_to_first_notification",
             "first_notification_to_acknowledged")


def _summary(minutes: list[float]) -> dict[str, float | None]:
    if not minutes:
        return {"n": 0, "median_min": None, "p90_min": None}
    ordered = sorted(minutes)
    p90 = ordered[0] if len(ordered) == 1 else statistics.quantiles(ordered, n=10)[-1]
    return {"n": len(ordered), "median_min": round(statistics.median(ordered), 2),
            "p90_min": round(p90, 2)}


def compliance(uow: UnitOfWork, start: datetime, end: datetime,
               ward: str | None = None) -> list[dict[str, Any]]:
    """Per ward: alert counts, median and p90 of the three intervals, escalated, never
    acknowledged. Alerts that page nobody (backfill, test, a sample stale on arrival) are
    history, not care given: they are not counted."""
    first_sent = (select(Delivery.alert_id,
                         func.min(Delivery.sent_at, type_=UTCDateTime()).label("at"))
                  .where(Delivery.state == "sent", Delivery.alert_id.is_not(None))
                  .group_by(Delivery.alert_id).subquery())
    q = (select(Alert, Ward.code, first_sent.c.at)
         .join(Patient, Patient.id == Alert.patient_id)
         .outerjoin(Ward, Ward.id == Patient.ward_id)
         .outerjoin(first_sent, first_sent.c.alert_id == Alert.id)
         .where(Alert.created_at >= start, Alert.created_at < end, Alert.notify.is_(True)))
    if ward:
        q = q.where(Ward.code == ward)
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "alerts": 0, "critical": 0, "warning": 0, "escalated": 0, "never_acknowledged": 0,
        **{name: [] for name in INTERVALS}})
    for alert, code, notified in uow.session.execute(q):
        w = per[code or "(no ward)"]
        w["alerts"] += 1
        w[alert.severity] = w.get(alert.severity, 0) + 1
        w["escalated"] += alert.escalation_level > 0
        w["never_acknowledged"] += alert.acknowledged_at is None
        w["collected_to_raised"].append((alert.created_at - alert.triggered_at)
                                        .total_seconds() / 60)
        if notified is not None:
            w["raised_to_first_notification"].append(
                (notified - alert.created_at).total_seconds() / 60)
            if alert.acknowledged_at is not None:
                w["first_notification_to_acknowledged"].append(
                    (alert.acknowledged_at - notified).total_seconds() / 60)
    return [{"ward": code, **{k: v for k, v in w.items() if k not in INTERVALS},
             **{name: _summary(w[name]) for name in INTERVALS}}
            for code, w in sorted(per.items())]
