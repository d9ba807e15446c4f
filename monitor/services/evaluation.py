"""Evaluate one patient from storage: load the affected slice, run the rules, write alerts.

Incremental: a change at time t re-evaluates the results collected from t on, with a
look-back (CONTEXT) for the windows, the episode and the potassium risk. A diagnosis
change re-evaluates the current episode (results within CONTEXT of the latest one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.engine.model import Measurement
from monitor.engine.policy import Policy
from monitor.engine.reconcile import Change, reconcile
from monitor.engine.rules import PatientData, evaluate
from monitor.services.alert_actions import after_engine_change, clear_gone
from monitor.storage.repos.alerts import active_records, apply_changes
from monitor.storage.repos.results import load_series
from monitor.storage.tables import EpisodeMark, Result, RiskFactor


@dataclass(frozen=True)
class Evaluated:
    changes: list[Change]
    deliveries: list[int]  # outbox rows to send once the transaction commits
    alerts: list[int] = field(default_factory=list)  # alert rows raised or changed


# Look-back loaded before the earliest re-evaluated result: the 48 h window, the 72 h
# potassium look-back and, for practical purposes, the start of the episode.
CONTEXT = timedelta(days=7)


def diagnosis_codes(session: Session, pid: int) -> frozenset[str]:
    rows = session.execute(select(RiskFactor.icd10_code, RiskFactor.factor).where(
        RiskFactor.patient_id == pid, RiskFactor.active.is_(True)))
    return frozenset(code or factor for code, factor in rows)


def acute_marks(session: Session, pid: int) -> tuple[datetime, ...]:
    rows = session.scalars(select(EpisodeMark.episode_start).where(
        EpisodeMark.patient_id == pid, EpisodeMark.acute.is_(True)))
    return tuple(rows)


def evaluate_patient(session: Session, pid: int, since: datetime | None, policy: Policy,
                     *, notify: bool, now: datetime,
                     extra_keys: frozenset[str] = frozenset(),
                     override: dict[str, Measurement | None] | None = None) -> Evaluated:
    """Re-evaluate results collected at or after `since` (None: the current episode)."""
    if since is None:
        latest = session.scalar(select(func.max(Result.collected_at))
                                .where(Result.patient_id == pid))
        if latest is None:
            return Evaluated([], [])
        since = latest - CONTEXT
    series = load_series(session, pid, since - CONTEXT, dict(override or {}))
    data = PatientData(sodium=series.sodium, potassium=series.potassium,
                       diagnosis_codes=diagnosis_codes(session, pid),
                       acute_marks=acute_marks(session, pid))
    findings = evaluate(data, policy, since)
    keys = {m.result_key for m in series.sodium if m.collected_at >= since} | extra_keys
    rows = active_records(session, pid)
    changes = reconcile([record for _, record in rows.values()], findings, keys,
                        new_id=lambda rule: f"new:{rule}")
    written = apply_changes(session, pid, changes, rows, policy, series.test_keys, notify, now)
    deliveries: list[int] = []
    for change, row in zip(changes, written, strict=True):
        deliveries += after_engine_change(session, row, change.kind, now)
    if series.sodium:
        clear_gone(session, pid, series.sodium[-1].value_mmol_l, policy, now)
    return Evaluated(changes, deliveries, [row.id for row in written])
