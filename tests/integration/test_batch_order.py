"""A batch keeps the alert history of in-order arrival: the same feed (patients interleaved,
corrections, removals, overcorrections) processed one row per batch and all in one batch
writes the same alerts and evidence, the same engine events in the same order and the
same lifecycle. On real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import monitor.runtime.drain as drain
from monitor.runtime import Runtime
from monitor.runtime.drain import drain_inbox
from monitor.services.evaluation.claims import BATCH_SIZE
from monitor.storage.tables import (
    Alert,
    AlertEvent,
    AlertEvidence,
    InboxItem,
    Patient,
    RejectRow,
)
from tests.hl7_builders import oru
from tests.integration.helpers import empty_tables, inbox_states, store_hl7

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
BASE = NOW - timedelta(days=3)
PATIENTS = ("ORD1", "ORD2", "ORD3")
NEW, CORRECT, REMOVE, RESEND = 0, 1, 2, 3
Step = tuple[int, int, int, int]  # (patient, operation, hours after BASE, Na mmol/L)


def feed(steps: list[Step]) -> list[str]:
    """HL7 messages in arrival order. A correction, removal or re-sent final concerns one
    of the patient's earlier orders (chosen by `hours`); with none yet it is a new result."""
    orders: dict[int, list[tuple[str, datetime]]] = {}
    messages: list[str] = []
    for n, (patient, op, hours, value) in enumerate(steps):
        mine = orders.setdefault(patient, [])
        name = PATIENTS[patient]
        if op == NEW or not mine:
            order, collected = f"{name}-{len(mine)}", BASE + timedelta(hours=hours)
            mine.append((order, collected))
            messages.append(oru(name, order, collected, value, control_id=f"M{n}"))
        else:
            order, collected = mine[hours % len(mine)]
            status, shown = {CORRECT: ("C", str(value)), REMOVE: ("D", ""),
                             RESEND: ("F", str(value))}[op]
            messages.append(oru(name, order, collected, shown, status=status,
                                control_id=f"M{n}"))
    return messages


def history(engine: Engine) -> list[tuple[Any, ...]]:
    """Every alert with its evidence keys and its events, independent of ids."""
    with Session(engine) as s:
        evidence: dict[int, list[str]] = {}
        for alert_id, key in s.execute(select(AlertEvidence.alert_id, AlertEvidence.result_key)):
            evidence.setdefault(alert_id, []).append(key)
        events: dict[int, list[tuple[str, str]]] = {}
        for alert_id, action, details in s.execute(select(
                AlertEvent.alert_id, AlertEvent.action, AlertEvent.details)
                .order_by(AlertEvent.id)):
            events.setdefault(alert_id, []).append((action, json.dumps(details, sort_keys=True)))
        found = [(patient, a.rule, a.severity, a.state, a.lifecycle, a.triggered_at,
                  a.value_mmol_l, a.evidence_count, tuple(sorted(evidence.get(a.id, []))),
                  tuple(events.get(a.id, [])))
                 for a, patient in s.execute(select(Alert, Patient.identifier)
                                             .join(Patient, Patient.id == Alert.patient_id))]
    return sorted(found, key=repr)


def processed(rt: Runtime, engine: Engine, messages: list[str], batch_size: int
              ) -> list[tuple[Any, ...]]:
    empty_tables(engine)
    for message in messages:
        store_hl7(rt, message, NOW)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(drain, "BATCH_SIZE", batch_size)
        drained = drain_inbox(rt, now=NOW)
    assert inbox_states(engine) == {"done": len(messages)}
    assert drained.batches == (len(messages) if batch_size == 1 else 1)
    return history(engine)


steps = st.lists(st.tuples(st.integers(0, len(PATIENTS) - 1),
                           st.sampled_from([NEW, NEW, NEW, CORRECT, REMOVE, RESEND]),
                           st.integers(0, 60), st.integers(112, 140)),
                 min_size=1, max_size=24)

# Fixed scenarios, always run: an overcorrection withdrawn by a correction, then raised
# again; a severe value removed; a late earlier sample; three patients interleaved.
OVERCORRECTED: list[Step] = [(0, NEW, 0, 114), (1, NEW, 1, 118), (0, NEW, 12, 126),
                             (2, NEW, 0, 135), (0, CORRECT, 1, 119), (1, NEW, 20, 130),
                             (0, NEW, 18, 129), (1, REMOVE, 0, 0), (2, NEW, 30, 116),
                             (0, NEW, 6, 121), (2, CORRECT, 1, 113), (1, NEW, 40, 117)]
REMOVED: list[Step] = [(0, NEW, 10, 116), (0, NEW, 20, 127), (0, REMOVE, 0, 0),
                       (0, NEW, 5, 113), (0, CORRECT, 2, 118), (0, NEW, 30, 128)]
# A final re-sent after its removal (refused), then corrected back (counted again).
RESENT: list[Step] = [(1, NEW, 0, 116), (1, NEW, 14, 126), (0, NEW, 3, 130),
                      (1, REMOVE, 0, 0), (1, RESEND, 0, 116), (0, NEW, 9, 129),
                      (1, RESEND, 0, 117), (1, CORRECT, 0, 116)]


PROPERTY = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def feeds(test: Callable[..., None]) -> Callable[..., None]:
    """Run `test` on the fixed scenarios and on feeds hypothesis draws."""
    return PROPERTY(example(OVERCORRECTED)(example(REMOVED)(example(RESENT)(
        given(steps)(test)))))


def both_ways(rt: Runtime, engine: Engine, steps: list[Step]
              ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The history written one row per batch, and all in one batch, on a fresh database."""
    messages = feed(steps)
    return (processed(rt, engine, messages, batch_size=1),
            processed(rt, engine, messages, batch_size=BATCH_SIZE))


def summary(alert: tuple[Any, ...]) -> tuple[Any, ...]:
    """Patient, rule, severity, state, triggered_at, value, evidence count and keys."""
    return alert[:4] + alert[5:9]


@feeds
def test_one_batch_raises_the_alerts_of_one_row_at_a_time(
        rt: Runtime, pg_engine: Engine, steps: list[Step]) -> None:
    one_by_one, at_once = both_ways(rt, pg_engine, steps)
    assert sorted(map(summary, at_once), key=repr) == sorted(map(summary, one_by_one), key=repr)


@feeds
def test_one_batch_writes_the_alert_history_of_one_row_at_a_time(
        rt: Runtime, pg_engine: Engine, steps: list[Step]) -> None:
    """Each alert's engine events (raised, updated, withdrawn, with the values of their
    moment) in the same order and the same final lifecycle; the same lifecycle events for
    every alert still open. A batch applies the condition's own transitions (a band alert
    cleared when the sodium left the band) after the engine's changes of the batch: an
    alert the batch both cleared and withdrew ends withdrawn without the 'cleared' event
    in between (docs/scaling.md)."""
    one_by_one, at_once = both_ways(rt, pg_engine, steps)
    assert list(map(history_of, at_once)) == list(map(history_of, one_by_one))


def rejected(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as s:
        return sorted((r.position, r.reason) for r in s.scalars(select(RejectRow)))


@feeds
def test_one_batch_refuses_the_versions_one_row_at_a_time_refuses(
        rt: Runtime, pg_engine: Engine, steps: list[Step]) -> None:
    messages = feed(steps)
    processed(rt, pg_engine, messages, batch_size=1)
    one_by_one = rejected(pg_engine)
    processed(rt, pg_engine, messages, batch_size=BATCH_SIZE)
    assert rejected(pg_engine) == one_by_one


ENGINE_ACTIONS = ("raised", "updated", "withdrawn")


def history_of(alert: tuple[Any, ...]) -> tuple[Any, ...]:
    events, withdrawn = alert[-1], alert[3] == "withdrawn"
    return (alert[:-1], [e for e in events if e[0] in ENGINE_ACTIONS],
            [] if withdrawn else sorted(e for e in events if e[0] not in ENGINE_ACTIONS))


def test_the_fixed_scenarios_raise_and_withdraw(rt: Runtime, pg_engine: Engine) -> None:
    """The fixed scenarios are not vacuous: they raise, update and withdraw alerts."""
    actions = {action for scenario in (OVERCORRECTED, REMOVED)
               for alert in processed(rt, pg_engine, feed(scenario), batch_size=1)
               for action, _ in alert[-1]}
    rules = {alert[1] for alert in processed(rt, pg_engine, feed(OVERCORRECTED), 1)}
    assert {"raised", "withdrawn"} <= actions
    assert {"SEVERE_HYPONATREMIA"} < rules
    with Session(pg_engine) as s:
        assert s.scalar(select(InboxItem.id).order_by(InboxItem.id.desc()).limit(1)) == len(
            OVERCORRECTED)


def test_the_re_sent_scenario_refuses_and_a_correction_restores(
        rt: Runtime, pg_engine: Engine) -> None:
    """RESENT is not vacuous: both finals after the removal are refused, the alert the
    removal withdrew is raised again by the correction."""
    resent = processed(rt, pg_engine, feed(RESENT), 1)
    assert [reason.split(":")[0] for _, reason in rejected(pg_engine)] == [
        "re-sent after removal", "re-sent after removal"]
    assert {(a[1], a[3]) for a in resent} >= {("OVERCORRECTION_24H", "withdrawn"),
                                              ("OVERCORRECTION_24H", "active")}
