"""Re-evaluate one patient outside the inbox (a clinician changed a risk factor or marked
hyponatremia acute): the same aggregate and engine code as the inbox batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor.engine.model import Diagnosis
from monitor.engine.policy import Policy
from monitor.services.evaluation.processing import Outcome, reevaluate_current
from monitor.services.intake.pipeline import Pipeline
from monitor.storage.repos import ledgers
from monitor.storage.uow import UnitOfWork


@dataclass(frozen=True)
class Evaluated:
    deliveries: list[int]  # outbox rows to send once the transaction commits
    alerts: list[int] = field(default_factory=list)  # alert rows raised or changed


def diagnoses(uow: UnitOfWork, pid: int) -> list[Diagnosis]:
    return ledgers.diagnoses(uow.session, [pid]).get(pid, [])


def reevaluate_patient(uow: UnitOfWork, pid: int, default: Policy, now: datetime,
                       actor: str = ledgers.SYSTEM, cause: str | None = None) -> Evaluated:
    """Re-evaluate the patient's current episode with the diagnoses and marks now stored,
    under the patient's lock and their ward's policy (`default` where the ward has none).
    `cause` is what `actor` did ("marked the episode acute: ..."): each alert this
    withdraws is withdrawn by `actor` with "`actor` `cause`" as its reason."""
    p = Pipeline(policy=default, tz=ZoneInfo("UTC"))
    out: Outcome = reevaluate_current(uow, pid, p, now, actor,
                                      f"{actor} {cause}" if cause else None)
    return Evaluated(out.deliveries, out.alerts)
