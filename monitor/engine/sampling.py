"""How often sodium is to be drawn: the longest gap the policy allows after a result.

MEASUREMENT_OVERDUE (services/alerting/watch.py) and the patient chart's "next sodium due"
both read it here. Pure; hours from the policy profile (docs/clinical-rules.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from monitor.engine.policy import Policy


def interval(policy: Policy, latest_mmol_l: float, rate_alert_open: bool,
             latest_at: datetime | None = None, vaptans: Sequence[datetime] = ()) -> timedelta:
    """Longest allowed gap before the next sodium, by band (sources: docs/clinical-rules.md).
    `vaptans`: when vaptans were ordered or given (counting ones): in the first
    `monitoring.vaptan_first_hours` of a course the next sodium is due `vaptan_hours` after
    the later of `latest_at` and the course's start, if that is sooner."""
    base = _band_interval(policy, latest_mmol_l, rate_alert_open)
    if latest_at is None or not vaptans:
        return base
    m = policy.monitoring
    for start in reversed(vaptan_starts(vaptans, policy)):
        if start > latest_at + base:
            continue  # begun after the sodium was already due
        if latest_at >= start + timedelta(hours=m.vaptan_first_hours):
            break  # the latest course that matters is past its first hours
        tight = max(latest_at, start) + timedelta(hours=m.vaptan_hours) - latest_at
        return min(base, tight)
    return base


def vaptan_starts(times: Sequence[datetime], policy: Policy) -> list[datetime]:
    """When courses of a vaptan began: the first order or dose, and each one after
    `monitoring.vaptan_first_hours` without any."""
    gap = timedelta(hours=policy.monitoring.vaptan_first_hours)
    ordered = sorted(times)
    return [t for i, t in enumerate(ordered) if i == 0 or t - ordered[i - 1] > gap]


def _band_interval(policy: Policy, latest_mmol_l: float, rate_alert_open: bool) -> timedelta:
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
             rate_alert_open: bool, vaptans: Sequence[datetime] = ()) -> datetime:
    """When the next sodium is due: past it, MEASUREMENT_OVERDUE is raised."""
    return latest_at + interval(policy, latest_mmol_l, rate_alert_open, latest_at, vaptans)
