"""From findings to alerts: one active alert per (patient, rule).

An alert holds while at least one counted result satisfies its rule (its *evidence*).
A further qualifying result updates it (worst value, latest result) instead of raising
another. `triggered_at` is the collection time of the earliest-collected evidence, so the
final state does not depend on arrival order. When a re-evaluation leaves no evidence (the
triggering data was corrected or removed) the alert is withdrawn, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from monitor.engine.model import Finding
from monitor.engine.rules import FALLING_SODIUM, HYPERNATREMIA, SEVERE_HYPONATREMIA

ACTIVE, WITHDRAWN, RESOLVED = "active", "withdrawn", "resolved"


@dataclass(frozen=True, slots=True)
class Settled:
    """Evidence outside the part of the patient being re-evaluated, summarised: an alert
    open over a long stay is then loaded and saved at a cost that does not grow with it."""

    count: int
    first: Finding
    worst: Finding
    latest: Finding


@dataclass(slots=True)
class AlertRecord:
    alert_id: str
    rule: str
    state: str = ACTIVE
    # The evidence that a re-evaluation may change (replay holds all of it).
    evidence: dict[str, Finding] = field(default_factory=dict)
    withdrawn_reason: str | None = None
    settled: Settled | None = None

    def _all(self, pick: Callable[[Settled], Finding]) -> list[Finding]:
        found = list(self.evidence.values())
        if self.settled is not None:
            found.append(pick(self.settled))
        return found

    @property
    def count(self) -> int:
        return len(self.evidence) + (self.settled.count if self.settled else 0)

    @property
    def first(self) -> Finding:
        return min(self._all(lambda s: s.first), key=lambda f: (f.collected_at, f.result_key))

    @property
    def triggered_at(self) -> datetime:
        return self.first.collected_at

    @property
    def worst(self) -> Finding:
        return max(self._all(lambda s: s.worst), key=badness)

    @property
    def latest(self) -> Finding:
        return max(self._all(lambda s: s.latest), key=lambda f: (f.collected_at, f.result_key))

    @property
    def severity(self) -> str:
        return "critical" if self.worst.severity == "critical" else "warning"


def badness(f: Finding) -> tuple[bool, float, datetime]:
    """How bad a finding is, for choosing the one an alert shows."""
    if f.rule == SEVERE_HYPONATREMIA:
        score = -f.value_mmol_l
    elif f.rule == HYPERNATREMIA:
        score = f.value_mmol_l
    elif f.rule == FALLING_SODIUM:
        score = -(f.rise_mmol_l or 0.0)
    else:
        score = f.rise_mmol_l or 0.0
    return (f.severity == "critical", score, f.collected_at)


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # raised / updated / withdrawn
    alert: AlertRecord


def reconcile(
    alerts: Iterable[AlertRecord],
    findings: Iterable[Finding],
    reevaluated: Collection[str],
    new_id: Callable[[str], str],
) -> list[Change]:
    """Fold the findings of re-evaluated results into a patient's alerts (in place).

    `reevaluated` holds the keys of every result whose findings were recomputed (including
    results that were removed): their old evidence is replaced by the new findings.
    """
    active = {a.rule: a for a in alerts if a.state == ACTIVE}
    findings = list(findings)
    if not active and not findings:
        return []
    by_rule: dict[str, list[Finding]] = {}
    for f in findings:
        by_rule.setdefault(f.rule, []).append(f)
    changes: list[Change] = []
    for rule in sorted(set(active) | set(by_rule)):
        fresh = by_rule.get(rule, [])
        alert = active.get(rule)
        if alert is None:
            alert = AlertRecord(alert_id=new_id(rule), rule=rule)
            alert.evidence = {f.result_key: f for f in fresh}
            changes.append(Change("raised", alert))
            continue
        before = dict(alert.evidence)
        gone = [k for k in alert.evidence if k in reevaluated]
        for key in gone:
            del alert.evidence[key]
        alert.evidence.update((f.result_key, f) for f in fresh)
        if not alert.evidence and alert.settled is None:
            alert.state = WITHDRAWN
            alert.evidence = before
            alert.withdrawn_reason = (
                f"{rule} no longer holds for any counted result after result "
                f"{', '.join(sorted(gone))} was corrected or removed"
            )
            changes.append(Change("withdrawn", alert))
        elif alert.evidence != before:
            changes.append(Change("updated", alert))
    return changes
