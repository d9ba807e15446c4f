"""Overcorrection events on the live path, on real PostgreSQL (V2-06, one result at a time):
a second overcorrection after re-lowering is a second alert that pages, the re-lowering is
in the first alert's history and raises no FALLING_SODIUM, and the database keeps one
active alert per patient, rule and event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError

from monitor.runtime import Runtime
from monitor.runtime.drain import drain_inbox
from monitor.services.intake.payload import receive_text
from monitor.storage.tables import Alert, AlertEvent

T0 = datetime.now(UTC).replace(microsecond=0, second=0) - timedelta(hours=45)
HEADER = "patient_id,collected_at,sodium,result_id\n"
# 116 -> 125 in 18 h (+9), re-lowered to 119 at 26 h, then 128 at 44 h (+9 from 119).
V2_06 = [(0, 116), (18, 125), (26, 119), (44, 128)]


def send(rt: Runtime, hours: float, value: float) -> None:
    at = (T0 + timedelta(hours=hours)).isoformat()
    with rt.uow() as uow:
        receive_text(uow, "csv", "csv:ward-feed", f"{HEADER}EV-1,{at},{value},EV-{hours:g}\n",
                     rt.pipeline, datetime.now(UTC))
    drain_inbox(rt)


def test_re_overcorrection_after_re_lowering_is_a_second_alert(rt: Runtime,
                                                              pg_engine: Engine) -> None:
    for hours, value in V2_06:
        send(rt, hours, value)
    with pg_engine.connect() as c:
        alerts = c.execute(select(Alert.id, Alert.rule, Alert.state, Alert.triggered_at,
                                  Alert.notify, Alert.event)
                           .order_by(Alert.triggered_at)).all()
        history = c.execute(select(AlertEvent.alert_id, AlertEvent.action, AlertEvent.reason)
                            .order_by(AlertEvent.id)).all()
    rate = [a for a in alerts if a.rule == "OVERCORRECTION_24H"]
    assert [(a.state, a.triggered_at) for a in rate] == [
        ("active", T0 + timedelta(hours=18)), ("active", T0 + timedelta(hours=44))]
    # The second event pages (the first one's result is older than a day: no page for it).
    assert rate[1].notify
    assert rate[0].event != rate[1].event
    assert "FALLING_SODIUM" not in {a.rule for a in alerts}
    relowered = T0 + timedelta(hours=26)
    notes = [h.reason for h in history if h.alert_id == rate[0].id and h.reason]
    assert f"re-lowered to 119 at {relowered:%H:%M} on {relowered.day} {relowered:%b}" in notes


def test_the_database_refuses_a_second_active_alert_for_one_event(rt: Runtime,
                                                                 pg_engine: Engine) -> None:
    send(rt, 0, 116)
    send(rt, 18, 125)
    with pg_engine.connect() as c:
        row = c.execute(select(Alert).where(Alert.rule == "OVERCORRECTION_24H")).one()
        columns = [col.name for col in Alert.__table__.columns if col.name != "id"]
        copy = ", ".join(f'"{name}"' for name in columns)
        with pytest.raises(IntegrityError, match="uq_alerts_active_event"):
            c.execute(text(f"INSERT INTO alerts ({copy}) SELECT {copy} FROM alerts "
                           "WHERE id = :id"), {"id": row.id})
