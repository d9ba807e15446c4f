"""Vaptan started: MEASUREMENT_OVERDUE follows the tighter interval (monitoring.vaptan_hours,
6 h for the first 48 h) on PostgreSQL, through the scheduler's alerting run (issue 16)."""

from __future__ import annotations

from datetime import timedelta

from monitor.runtime import Runtime
from tests.hl7_builders import rde
from tests.integration.receivers import WebhookReceiver
from tests.integration.test_alerting_checks import (  # noqa: F401  (fixtures)
    OVERDUE,
    T,
    alerting,
    alerts_of,
    deliver,
    hooks,
    hospital,
    rt,
    sodium,
)


def test_a_vaptan_order_makes_sodium_due_6_h_after_it(
        rt: Runtime, hooks: dict[str, WebhookReceiver]) -> None:  # noqa: F811
    hospital(rt, hooks, T - timedelta(hours=1), on_call_until=T + timedelta(days=2))
    sodium(rt, "VAP", 0, T, 128)  # mild band: daily, were it not for the vaptan
    sodium(rt, "CTRL", 0, T, 128)
    deliver(rt, rde("VAP", "PO-V1", T + timedelta(hours=1), "Tolvaptan 15 mg tablet",
                    amount="15", unit="mg", route="PO"), T + timedelta(hours=1))
    alerting(rt, T + timedelta(hours=7))
    assert alerts_of(rt, "VAP", OVERDUE) == []
    alerting(rt, T + timedelta(hours=7, seconds=1))  # 6 h after the order
    [overdue] = alerts_of(rt, "VAP", OVERDUE)
    assert overdue.window_hours == 7  # the gap allowed after the last sodium
    assert "every 7 h" in overdue.message
    assert alerts_of(rt, "CTRL", OVERDUE) == []  # no vaptan: 24 h
