"""How often sodium is to be drawn: the longest gap the policy allows after a result.

MEASUREMENT_OVERDUE (services/alerting/watch.py) and the patient chart's "next sodium due"
both read it here. Pure; hours from the policy profile (docs/clinical-rules.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.engine.policy import Policy


def interval(policy: Policy, latest_mmol_l: float, rate_alert_open: bool) -> timedelta:
    """Longest allowed gap before the next sodium, by band (sources: docs/clinical-rules.md)."""
    m, b = policy.monitoring, policy.bands
    if rate_alert_open:
        hours = m.during_rate_alert_hours
    elif latest_mmol_l < b.severe_below:
        hours = m.severe_hours
    elif latest_mmol_l < b.mild_min:
        hours = m.moderate_hours
    else:
        hours = m.mild_hours
    return timedelta(hours=hours)


def next_due(policy: Policy, latest_at: datetime, latest_mmol_l: float,
             rate_alert_open: bool) -> datetime:
    """When the next sodium is due: past it, MEASUREMENT_OVERDUE is raised."""
    return latest_at + interval(policy, latest_mmol_l, rate_alert_open)
