"""Properties of PatientLedger: arrival order, removal and re-sending, duplicates."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.engine.ledger import PatientLedger
from monitor.engine.model import Analyte, Method, ResultStatus
from monitor.engine.policy import BUILT_IN, built_in
from monitor.engine.reconcile import ACTIVE
from monitor.engine.rules import OVERCORRECTION_24H, OVERCORRECTION_48H, SEVERE_HYPONATREMIA
from monitor.engine.versions import RESENT_AFTER_REMOVAL
from tests.unit.engine.builders import at, ids

CRITICAL_RULES = frozenset({SEVERE_HYPONATREMIA, OVERCORRECTION_24H, OVERCORRECTION_48H})
FAST = settings(max_examples=80, deadline=None)


@dataclass(frozen=True)
class Case:
    policy: str
    results: tuple[tuple[str, int, float], ...]  # (key, hours after T0, Na mmol/L)
    diagnosis: str | None


@st.composite
def cases(draw: st.DrawFn) -> Case:
    # One stay: within the episode gap (a longer gap ends the stay for good, engine.stays).
    hours = draw(st.lists(st.integers(0, 72), min_size=2, max_size=12, unique=True))
    values = draw(st.lists(st.integers(200, 280).map(lambda x: x / 2),  # 100-140 by 0.5
                           min_size=len(hours), max_size=len(hours)))
    diagnosis = draw(st.one_of(st.none(), st.sampled_from(["K70.3", "F10.2", "E43", "E87.6"])))
    return Case(draw(st.sampled_from(BUILT_IN)),
                tuple((f"r{n}", h, v) for n, (h, v) in enumerate(zip(hours, values, strict=True))),
                diagnosis)


class Run:
    """A ledger fed one FINAL version per result, with increasing arrival numbers."""

    def __init__(self, case: Case) -> None:
        self.ledger = PatientLedger(built_in(case.policy))
        self.new_id = ids()
        self.seq = 0
        self.case = case

    def send(self, key: str, hours: int, value: float | None,
             status: ResultStatus = ResultStatus.FINAL, seq: int | None = None) -> list[object]:
        if seq is None:
            self.seq += 1
            seq = self.seq
        return list(self.ledger.add_result(key, Analyte.SODIUM, Method.LAB, status, value,
                                           at(hours), seq, False, self.new_id))

    def feed(self, order: list[int], diagnosis_at: int) -> Run:
        for position, index in enumerate(order):
            if position == diagnosis_at and self.case.diagnosis:
                self.ledger.set_diagnosis(self.case.diagnosis, True, self.new_id)
            self.send(*self.case.results[index])
        if diagnosis_at >= len(order) and self.case.diagnosis:
            self.ledger.set_diagnosis(self.case.diagnosis, True, self.new_id)
        return self

    def critical(self) -> set[tuple[str, object]]:
        return {(a.rule, a.triggered_at) for a in self.ledger.alerts
                if a.state == ACTIVE and a.rule in CRITICAL_RULES}

    def active(self) -> set[tuple[str, object, str]]:
        return {(a.rule, a.triggered_at, a.severity) for a in self.ledger.alerts
                if a.state == ACTIVE}

    def snapshot(self) -> list[tuple[str, str, str, dict[str, object]]]:
        return [(a.alert_id, a.rule, a.state, dict(a.evidence)) for a in self.ledger.alerts]


@FAST
@given(case=cases(), data=st.data())
def test_arrival_order_does_not_change_the_critical_alerts(case: Case, data: st.DataObject) -> None:
    n = len(case.results)
    in_time_order = Run(case).feed(list(range(n)), diagnosis_at=0)
    order = data.draw(st.permutations(range(n)), label="arrival order")
    diagnosis_at = data.draw(st.integers(0, n), label="diagnosis arrives before")
    shuffled = Run(case).feed(list(order), diagnosis_at)
    assert shuffled.critical() == in_time_order.critical()


@FAST
@given(case=cases(), data=st.data())
def test_a_final_re_sent_after_removal_changes_nothing_and_a_correction_restores(
        case: Case, data: st.DataObject) -> None:
    run = Run(case).feed(list(range(len(case.results))), diagnosis_at=0)
    before = run.active()
    key, hours, value = data.draw(st.sampled_from(case.results), label="removed result")
    run.send(key, hours, None, status=ResultStatus.REMOVED)
    removed = run.snapshot()
    status = data.draw(st.sampled_from([ResultStatus.FINAL, ResultStatus.PRELIMINARY]),
                       label="re-sent as")
    assert run.send(key, hours, value, status=status) == []
    assert run.snapshot() == removed
    assert [r.reason for r in run.ledger.take_refused()] == [RESENT_AFTER_REMOVAL]
    run.send(key, hours, value, status=ResultStatus.CORRECTED)
    assert run.active() == before
    assert run.ledger.take_refused() == []


@FAST
@given(case=cases(), data=st.data())
def test_a_removal_and_a_re_send_give_the_same_alerts_in_any_processing_order(
        case: Case, data: st.DataObject) -> None:
    # Arrival order: every result, then a removal of one, then its final again. Live, a
    # payload can be processed after later ones (it committed late); versions still apply
    # in arrival order, so the result stays removed and the re-send is refused once.
    # (Critical alerts, as above: a projection depends on what was known when it was made.)
    n = len(case.results)
    key, hours, value = data.draw(st.sampled_from(case.results), label="removed result")
    sent = [(k, h, v, ResultStatus.FINAL, seq) for seq, (k, h, v) in
            enumerate(case.results, start=1)]
    sent += [(key, hours, None, ResultStatus.REMOVED, n + 1),
             (key, hours, value, ResultStatus.FINAL, n + 2)]

    def run(order: list[int]) -> tuple[set[tuple[str, object]], list[int]]:
        r = Run(case)
        if case.diagnosis:
            r.ledger.set_diagnosis(case.diagnosis, True, r.new_id)
        for index in order:
            k, h, v, status, seq = sent[index]
            r.send(k, h, v, status=status, seq=seq)
        return r.critical(), sorted(x.arrival_seq for x in r.ledger.take_refused())

    order = data.draw(st.permutations(range(len(sent))), label="processing order")
    in_order = run(list(range(len(sent))))
    assert in_order[1] == [n + 2]
    assert run(list(order)) == in_order


@FAST
@given(case=cases(), data=st.data())
def test_the_same_version_again_changes_nothing(case: Case, data: st.DataObject) -> None:
    run = Run(case)
    sent: list[tuple[str, int, float, int]] = []
    for key, hours, value in case.results:
        run.send(key, hours, value)
        sent.append((key, hours, value, run.seq))
        if data.draw(st.booleans(), label="resend one now"):
            again = data.draw(st.sampled_from(sent), label="resent")
            before = run.snapshot()
            assert run.send(again[0], again[1], again[2], seq=again[3]) == []
            assert run.snapshot() == before
    if case.diagnosis:
        run.ledger.set_diagnosis(case.diagnosis, True, run.new_id)
        before = run.snapshot()
        assert run.ledger.set_diagnosis(case.diagnosis, True, run.new_id) == []
        assert run.snapshot() == before


@FAST
@given(case=cases(), data=st.data(), mark=st.integers(0, 120))
def test_arrival_order_does_not_change_the_alerts_of_a_patient_with_an_acute_mark(
    case: Case, data: st.DataObject, mark: int,
) -> None:
    """The mark (onset `mark` h after T0) arrives anywhere among the results, which arrive
    in any order, evaluated one by one or deferred as replay does."""
    def feed(order: list[int], mark_before: int, defer: bool) -> Run:
        run = Run(case)
        run.ledger.defer_appends = defer
        if case.diagnosis:
            run.ledger.set_diagnosis(case.diagnosis, True, run.new_id)
        for position, index in enumerate(order):
            if position == mark_before:
                run.ledger.mark_acute(at(mark), run.new_id)
            run.send(*case.results[index])
        if mark_before >= len(order):
            run.ledger.mark_acute(at(mark), run.new_id)
        run.ledger.flush()
        return run

    n = len(case.results)
    order = data.draw(st.permutations(range(n)), label="arrival order")
    mark_before = data.draw(st.integers(0, n), label="mark arrives before")
    defer = data.draw(st.booleans(), label="appends deferred")
    expected = feed(list(range(n)), 0, False).active()
    assert feed(list(order), mark_before, defer).active() == expected


def test_a_fall_after_a_projection_warns_whatever_the_arrival_order() -> None:
    # Found by the property above: 100 -> 106 -> 100 over 3 h. A projected overcorrection
    # raised in the same pass as the fall was taken for an overcorrection the fall
    # re-lowered, so the fall's warning went when the results came latest first; in time
    # order it stayed. A projection is no overcorrection: re-lowering needs a real one.
    case = Case("default", (("r0", 3, 100.0), ("r1", 2, 106.0), ("r2", 0, 100.0)), None)
    latest_first = Run(case).feed([0, 1, 2], diagnosis_at=0).active()
    in_time_order = Run(case).feed([2, 1, 0], diagnosis_at=0).active()
    assert latest_first == in_time_order
    assert "FALLING_SODIUM" in {rule for rule, _, _ in latest_first}
