"""The alert's JSON shape, shared by replay, `alerts list --format jsonl`, webhooks and the API
(here, below the services, so that notifications build it without importing them).

One shape everywhere, so a live run and a replay of the same feed compare line for line.
"""

from __future__ import annotations

from typing import Any

from monitor.engine.rules import ALL_RULES
from monitor.storage.tables import Alert, Patient


def alert_json(alert: Alert, patient: Patient, *, result_key: bool = False) -> dict[str, Any]:
    """`result_key`: add replay's `result_key` (the latest evidence) for line-by-line
    comparison with replay; off by default, since a result key may embed the MRN."""
    shape = {
        "alert_id": str(alert.id),
        "patient_id": patient.identifier,
        "patient_authority": patient.authority,
        "rule": alert.rule,
        "severity": alert.severity,
        "state": alert.state,
        "lifecycle": alert.lifecycle,
        "acknowledged_by": alert.acknowledged_by,
        "triggered_at": alert.triggered_at.isoformat(),
        "value_mmol_l": alert.value_mmol_l,
        "rise_mmol_l": alert.rise_mmol_l,
        "window_hours": alert.window_hours,
        "limit_mmol_l": alert.limit_mmol_l,
        "risk_tier": alert.risk_tier,
        "risk_factors": list(alert.risk_factors),
        "mixed_methods": alert.mixed_methods,
        "test": alert.test,
        "policy": alert.policy,
        "message": alert.message,
        "withdrawn_reason": alert.withdrawn_reason,
    }
    if result_key:
        shape["result_key"] = _latest_result_key(alert)
    return shape


def _latest_result_key(alert: Alert) -> str | None:
    """The latest evidence's result identity, as replay reports it (without the feed)."""
    if alert.latest_key is None or alert.rule not in ALL_RULES:
        return None
    return alert.latest_key.partition("|")[2]
