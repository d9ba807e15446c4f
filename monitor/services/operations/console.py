"""The operator's console: one line per alert raised, escalated or acknowledged and per
reject, as they are committed (the demo prints them).

It reads the append-only history (alert_events, rejects) after the last row it showed,
so it sees what any process committed, in commit order, without hooks in the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import func, select

from monitor.engine.wording import number
from monitor.services.alerting.watch import OVERDUE
from monitor.storage.tables import Alert, AlertEvent, Patient, RejectRow
from monitor.storage.uow import UnitOfWork

SHOWN = ("raised", "escalated", "acknowledged")


@dataclass
class Console:
    """Where the console has got to; `start` skips what was there before it opened."""

    zone: tzinfo
    last_event: int = 0
    last_reject: int = 0
    started: bool = field(default=False)

    def start(self, uow: UnitOfWork) -> None:
        s = uow.session
        self.last_event = s.scalar(select(func.max(AlertEvent.id))) or 0
        self.last_reject = s.scalar(select(func.max(RejectRow.id))) or 0
        self.started = True

    def lines(self, uow: UnitOfWork, limit: int = 200) -> list[str]:
        """New lines since the last call, oldest first."""
        s = uow.session
        out: list[tuple[datetime, str]] = []
        events = s.execute(
            select(AlertEvent, Alert, Patient).join(Alert, Alert.id == AlertEvent.alert_id)
            .join(Patient, Patient.id == Alert.patient_id)
            .where(AlertEvent.id > self.last_event).order_by(AlertEvent.id).limit(limit)).all()
        for event, alert, patient in events:
            self.last_event = event.id
            if event.action not in SHOWN:
                continue
            who = "" if event.actor in ("system", "scheduler") else f" by {event.actor}"
            rise = alert.rise_mmol_l
            value = "" if alert.rule == OVERDUE else \
                f"  Na {number(alert.value_mmol_l)}" + (
                    f" ({'+' if rise > 0 else ''}{number(rise)} in "
                    f"{number(alert.window_hours)} h)" if rise and alert.window_hours else "")
            out.append((event.at, f"ALERT {event.action}{who}  {alert.severity} {alert.rule}"
                                  f"  patient {patient.identifier}{value}"))
        rejects = s.scalars(select(RejectRow).where(RejectRow.id > self.last_reject)
                            .order_by(RejectRow.id).limit(limit)).all()
        for r in rejects:
            self.last_reject = r.id
            out.append((r.created_at, f"REJECT {r.source}  {r.position}: {r.reason}"))
        out.sort(key=lambda x: x[0])
        return [f"{at.astimezone(self.zone):%H:%M:%S}  {text}" for at, text in out]
