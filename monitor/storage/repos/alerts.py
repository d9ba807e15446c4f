"""Alerts: rows <-> the engine's AlertRecord, and the append-only alert_events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.engine.messages import message
from monitor.engine.model import Finding
from monitor.engine.policy import Policy
from monitor.engine.reconcile import ACTIVE, AlertRecord, Change
from monitor.engine.rules import ALL_RULES
from monitor.storage.tables import Alert, AlertEvent, Result

SYSTEM = "system"


def finding_to_json(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule, "severity": f.severity, "result_key": f.result_key,
        "collected_at": f.collected_at.isoformat(), "value_mmol_l": f.value_mmol_l,
        "rise_mmol_l": f.rise_mmol_l, "window_hours": f.window_hours,
        "limit_mmol_l": f.limit_mmol_l, "risk_tier": f.risk_tier,
        "risk_factors": list(f.risk_factors), "mixed_methods": f.mixed_methods,
        "extra": f.extra,
    }


def finding_from_json(d: dict[str, Any]) -> Finding:
    return Finding(
        rule=d["rule"], severity=d["severity"], result_key=d["result_key"],
        collected_at=datetime.fromisoformat(d["collected_at"]),
        value_mmol_l=d["value_mmol_l"], rise_mmol_l=d["rise_mmol_l"],
        window_hours=d["window_hours"], limit_mmol_l=d["limit_mmol_l"],
        risk_tier=d["risk_tier"], risk_factors=tuple(d["risk_factors"]),
        mixed_methods=d["mixed_methods"], extra=dict(d.get("extra") or {}),
    )


def active_records(session: Session, pid: int) -> dict[str, tuple[Alert, AlertRecord]]:
    """The patient's active alerts by id, as rows and as engine records."""
    # Only the engine's rules: scheduled alerts (MEASUREMENT_OVERDUE) are not its to fold.
    rows = session.scalars(select(Alert).where(Alert.patient_id == pid, Alert.state == ACTIVE,
                                               Alert.rule.in_(ALL_RULES)))
    return {
        str(row.id): (row, AlertRecord(
            alert_id=str(row.id), rule=row.rule, state=row.state,
            evidence={k: finding_from_json(v) for k, v in row.evidence.items()},
        ))
        for row in rows
    }


def _result_id(session: Session, pid: int, key: str) -> int | None:
    feed, _, result_key = key.partition("|")
    return session.scalar(select(Result.id).where(
        Result.patient_id == pid, Result.source_feed == feed, Result.result_key == result_key,
        Result.is_current.is_(True)))


def apply_changes(session: Session, pid: int, changes: list[Change],
                  rows: dict[str, tuple[Alert, AlertRecord]], policy: Policy,
                  test_keys: set[str], notify: bool, now: datetime) -> list[Alert]:
    """Write raised, updated and withdrawn alerts with their events; return changed rows."""
    written: list[Alert] = []
    for change in changes:
        record = change.alert
        worst, latest = record.worst, record.latest
        values = {
            "severity": record.severity, "state": record.state,
            "triggered_at": record.triggered_at, "value_mmol_l": worst.value_mmol_l,
            "rise_mmol_l": worst.rise_mmol_l, "window_hours": worst.window_hours,
            "limit_mmol_l": worst.limit_mmol_l, "risk_tier": worst.risk_tier,
            "risk_factors": list(worst.risk_factors),
            "mixed_methods": any(f.mixed_methods for f in record.evidence.values()),
            "policy": policy.name, "message": message(worst, policy),
            "evidence": {k: finding_to_json(f) for k, f in record.evidence.items()},
            "withdrawn_reason": record.withdrawn_reason,
            "triggering_result_id": _result_id(session, pid, latest.result_key),
            "updated_at": now,
        }
        if change.kind == "raised":
            row = Alert(patient_id=pid, rule=record.rule, lifecycle="unacknowledged",
                        test=all(k in test_keys for k in record.evidence),
                        notify=notify, created_at=now, **values)
            session.add(row)
            session.flush()
            record.alert_id = str(row.id)
            before = None
        else:
            row = rows[record.alert_id][0]
            before = row.lifecycle
            for name, value in values.items():
                setattr(row, name, value)
            if change.kind == "withdrawn":
                row.lifecycle = "withdrawn"
        session.add(AlertEvent(
            alert_id=row.id, at=now, actor=SYSTEM, action=change.kind, from_state=before,
            to_state=row.lifecycle, reason=record.withdrawn_reason,
            details={"value_mmol_l": worst.value_mmol_l, "rise_mmol_l": worst.rise_mmol_l,
                     "result_key": latest.result_key},
        ))
        written.append(row)
    return written


def move_alerts(session: Session, old_pid: int, new_pid: int) -> None:
    session.execute(update(Alert).where(Alert.patient_id == old_pid)
                    .values(patient_id=new_pid))
