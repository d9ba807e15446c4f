"""Small plain builders for engine tests: aware UTC times, series of measurements, ledgers."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from monitor.engine.ledger import PatientLedger
from monitor.engine.model import (
    Analyte,
    Diagnosis,
    Finding,
    Measurement,
    Method,
    ResultStatus,
    RiskSource,
)
from monitor.engine.policy import Policy, built_in
from monitor.engine.reconcile import ACTIVE, AlertRecord, Change
from monitor.engine.rules import PatientData, evaluate

T0 = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)


def at(hours: float, start: datetime = T0) -> datetime:
    """The time `hours` after `start` (aware UTC)."""
    return start + timedelta(hours=hours)


def na(hours: float, value: float, key: str | None = None,
       method: Method = Method.LAB) -> Measurement:
    """One counted sodium value (mmol/L) collected `hours` after T0."""
    return Measurement(key or f"na@{hours:g}", Analyte.SODIUM, value, at(hours), method)


def k(hours: float, value: float, key: str | None = None) -> Measurement:
    """One counted potassium value (mmol/L) collected `hours` after T0."""
    return Measurement(key or f"k@{hours:g}", Analyte.POTASSIUM, value, at(hours))


def series(start: datetime, values: Iterable[float], every_hours: float = 6.0,
           method: Method = Method.LAB) -> list[Measurement]:
    """Sodium values collected every `every_hours` from `start`; keys r1, r2, ..."""
    return [
        Measurement(f"r{n + 1}", Analyte.SODIUM, v, start + timedelta(hours=n * every_hours),
                    method)
        for n, v in enumerate(values)
    ]


def timed(points: Iterable[tuple[float, float]]) -> list[Measurement]:
    """Sodium values at (hours after T0, mmol/L); keys r1, r2, ... in the order given."""
    return [
        Measurement(f"r{n + 1}", Analyte.SODIUM, v, at(h))
        for n, (h, v) in enumerate(points)
    ]


def coded(codes: Iterable[str]) -> tuple[Diagnosis, ...]:
    """Active diagnoses with no dates: each holds for every result."""
    return tuple(Diagnosis(c, RiskSource.CLINICIAN) for c in sorted(set(codes)))


def findings(sodium: Sequence[Measurement], policy: str | Policy = "default",
             potassium: Sequence[Measurement] = (), codes: Iterable[str] = (),
             acute: Iterable[datetime] = ()) -> list[Finding]:
    chosen = built_in(policy) if isinstance(policy, str) else policy
    data = PatientData(sodium=sorted(sodium, key=lambda m: m.collected_at),
                       potassium=sorted(potassium, key=lambda m: m.collected_at),
                       diagnoses=coded(codes), acute_marks=tuple(acute))
    return evaluate(data, chosen)


def fired(found: Iterable[Finding], rule: str) -> list[str]:
    """Keys of the results at which `rule` holds, in collection order."""
    return [f.result_key for f in found if f.rule == rule]


def only(found: Iterable[Finding], rule: str) -> Finding:
    matches = [f for f in found if f.rule == rule]
    assert len(matches) == 1, matches
    return matches[0]


def rules_at(found: Iterable[Finding], key: str) -> set[str]:
    return {f.rule for f in found if f.result_key == key}


def ids() -> Callable[[str], str]:
    """A fresh alert-id generator: RULE-1, RULE-2, ..."""
    counter = itertools.count(1)
    return lambda rule: f"{rule}-{next(counter)}"


class Feed:
    """Sends versions of results to a PatientLedger with increasing arrival sequence numbers."""

    def __init__(self, policy: str = "default") -> None:
        self.ledger = PatientLedger(built_in(policy))
        self.seq = 0
        self.new_id = ids()

    def send(self, key: str, hours: float, value: float | None,
             status: ResultStatus = ResultStatus.FINAL, analyte: Analyte = Analyte.SODIUM,
             method: Method = Method.LAB, seq: int | None = None,
             test: bool = False, inferred: bool = False) -> list[Change]:
        if seq is None:
            self.seq += 1
            seq = self.seq
        return self.ledger.add_result(key, analyte, method, status, value, at(hours), seq,
                                      test, self.new_id, inferred)

    def diagnose(self, code: str, active: bool = True) -> list[Change]:
        return self.ledger.set_diagnosis(code, active, self.new_id)

    def active(self) -> dict[str, AlertRecord]:
        return {a.rule: a for a in self.ledger.alerts if a.state == ACTIVE}
