"""Cases a review found where one batch differed from one row at a time (PostgreSQL):
an acknowledged band alert cleared and then back in the band within a batch, and an ADT^A40
followed by a correction of a merged result within a batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import monitor.runtime.drain as drain
from monitor.runtime import Runtime
from monitor.runtime.drain import drain_inbox
from monitor.services.alerting.actions import acknowledge
from monitor.storage.tables import Alert, AlertEvent, Result, User
from monitor.storage.tables.access import Role
from tests.hl7_builders import oru
from tests.integration.helpers import empty_tables, store_hl7
from tests.integration.test_adt_live import adt

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
START = NOW - timedelta(hours=10)


def history(engine: Engine) -> list[tuple[str, str, str, float, list[str]]]:
    with Session(engine) as s:
        return [(a.rule, a.state, a.lifecycle, a.value_mmol_l,
                 list(s.scalars(select(AlertEvent.action).where(AlertEvent.alert_id == a.id)
                                .order_by(AlertEvent.id))))
                for a in s.scalars(select(Alert).order_by(Alert.id))]


def acknowledged_then_back(rt: Runtime, batch_size: int,
                           monkeypatch: pytest.MonkeyPatch) -> list[tuple]:  # type: ignore[type-arg]
    empty_tables(rt.engine)
    with rt.uow() as uow:
        uow.session.add(Role(name="nurse"))
        uow.session.flush()
        uow.session.add(User(username="nurse1", role="nurse", created_at=NOW))
        uow.commit()
    store_hl7(rt, oru("BAND1", "A1", START, 150, control_id="m1"), NOW)
    drain_inbox(rt, now=NOW)
    with rt.uow() as uow:
        alert_id = uow.session.scalar(select(Alert.id))
    assert alert_id is not None
    with rt.uow() as uow:
        acknowledge(uow, alert_id, "nurse1", None, NOW)
    store_hl7(rt, oru("BAND1", "A2", START + timedelta(hours=1), 140, control_id="m2"), NOW)
    store_hl7(rt, oru("BAND1", "A3", START + timedelta(hours=2), 152, control_id="m3"), NOW)
    monkeypatch.setattr(drain, "BATCH_SIZE", batch_size)
    drain_inbox(rt, now=NOW)
    return history(rt.engine)


def test_an_acknowledged_band_alert_cleared_then_back_in_the_band_raises_anew(
        rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    one_by_one = acknowledged_then_back(rt, 1, monkeypatch)
    assert one_by_one == [
        ("HYPERNATREMIA", "resolved", "resolved", 150.0, ["raised", "acknowledged", "cleared"]),
        ("HYPERNATREMIA", "active", "unacknowledged", 152.0, ["raised"])]
    assert acknowledged_then_back(rt, 200, monkeypatch) == one_by_one


def merged_then_corrected(rt: Runtime, batch_size: int,
                          monkeypatch: pytest.MonkeyPatch) -> list[tuple]:  # type: ignore[type-arg]
    empty_tables(rt.engine)
    store_hl7(rt, oru("NEW1", "S1", START, 130, control_id="m1"), NOW)
    store_hl7(rt, oru("OLD1", "O1", START - timedelta(hours=1), 131, control_id="m0"), NOW)
    drain_inbox(rt, now=NOW)
    store_hl7(rt, adt("A40", "NEW1", "F1", segments=("MRG|OLD1^^^CITYGEN^MR",)), NOW)
    store_hl7(rt, oru("NEW1", "S1", START, 116, status="C", control_id="m2"), NOW)
    monkeypatch.setattr(drain, "BATCH_SIZE", batch_size)
    drain_inbox(rt, now=NOW)
    with Session(rt.engine) as s:
        current = dict(s.execute(select(Result.result_key, func.count()).where(
            Result.is_current.is_(True)).group_by(Result.result_key)).all())
    return [current, *history(rt.engine)]


def test_a_correction_after_a_merge_in_the_same_batch_leaves_one_current_version(
        rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    one_by_one = merged_then_corrected(rt, 1, monkeypatch)
    assert one_by_one[0] == {"S1|2951-2|": 1, "O1|2951-2|": 1}
    assert merged_then_corrected(rt, 200, monkeypatch) == one_by_one
