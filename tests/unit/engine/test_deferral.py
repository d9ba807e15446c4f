"""Replay's deferred evaluation of appended results gives exactly the alerts (active and
withdrawn, with their triggers and severities) of evaluating every result on arrival."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.engine.ledger import PatientLedger
from monitor.engine.model import Analyte, Method, ResultStatus
from monitor.engine.policy import BUILT_IN, built_in
from tests.unit.engine.builders import at, ids

# (key, hours after T0, value, status, analyte): statuses and potassium mixed in, keys reused
# so that corrections and removals of earlier results happen too.
EVENT = st.tuples(st.sampled_from([f"r{n}" for n in range(8)]), st.integers(0, 96),
                  st.integers(200, 280).map(lambda x: x / 2),
                  st.sampled_from([ResultStatus.FINAL] * 4 + [ResultStatus.CORRECTED,
                                                              ResultStatus.REMOVED]),
                  st.sampled_from([Analyte.SODIUM] * 5 + [Analyte.POTASSIUM]))


def outcome(policy: str, events: list[tuple], diagnosis_at: int | None,
            defer: bool) -> list[tuple]:
    ledger = PatientLedger(built_in(policy), defer_appends=defer)
    new_id = ids()
    for seq, (key, hours, value, status, analyte) in enumerate(events, start=1):
        if diagnosis_at == seq:
            ledger.set_diagnosis("K70.3", True, new_id)
        if analyte is Analyte.POTASSIUM:
            value = value / 40  # 2.5-3.5 mmol/L
            key = f"k-{key}"
        ledger.add_result(key, analyte, Method.LAB, status,
                          None if status is ResultStatus.REMOVED else value, at(hours), seq,
                          False, new_id)
    ledger.flush()
    return sorted((a.rule, a.state, a.triggered_at, a.severity, a.worst.value_mmol_l)
                  for a in ledger.alerts)


@given(st.sampled_from(BUILT_IN), st.lists(EVENT, min_size=1, max_size=14),
       st.one_of(st.none(), st.integers(1, 14)))
@settings(max_examples=150, deadline=None)
def test_deferred_appends_give_the_same_alerts(policy: str, events: list[tuple],
                                               diagnosis_at: int | None) -> None:
    assert outcome(policy, events, diagnosis_at, True) == \
        outcome(policy, events, diagnosis_at, False)


def test_in_order_appends_are_evaluated_once_at_the_flush() -> None:
    ledger = PatientLedger(built_in("default"), defer_appends=True)
    new_id = ids()
    for seq, (hours, value) in enumerate([(0, 114), (6, 118), (12, 123)], start=1):
        assert ledger.add_result(f"r{seq}", Analyte.SODIUM, Method.LAB, ResultStatus.FINAL,
                                 value, at(hours), seq, False, new_id) == []
    assert ledger.alerts == []
    assert {c.alert.rule for c in ledger.flush()} >= {"OVERCORRECTION_24H"}
