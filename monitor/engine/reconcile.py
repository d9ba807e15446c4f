"""From findings to alerts: one active alert per (patient, rule), and for the rate rules
one per (patient, rule, overcorrection event).

An alert holds while at least one counted result satisfies its rule (its *evidence*).
A further qualifying result updates it (worst value, latest result) instead of raising
another. `triggered_at` is the collection time of the earliest-collected evidence, so the
final state does not depend on arrival order. When a re-evaluation leaves no evidence (the
triggering data was corrected or removed) the alert is withdrawn, with the reason.

Events: a rate finding belongs to the open event of its rule unless the value its window
rises from was collected after that event's peak (its highest value): sodium was brought
down again and is rising anew, which is a new overcorrection and pages again. The events
are a function of all the rule's evidence (walked in collection order), so arrival order
cannot change them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from monitor.engine.fluids import AQUARESIS_WARNING
from monitor.engine.model import Finding
from monitor.engine.rules import (
    FALLING_SODIUM,
    HYPERNATREMIA,
    OVERCORRECTION_24H,
    OVERCORRECTION_48H,
    RATE_RULES,
    SEVERE_HYPONATREMIA,
)
from monitor.engine.wording import clock
from monitor.engine.wording import number as _n

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
    # Rate rules: the key of the finding that opened the event (stable for the alert's
    # life; storage keeps one active alert per patient, rule and event). "" otherwise.
    event: str = ""
    # Lines for the alert's history that no state change carries ("re-lowered to 119 at
    # 09:00 on 6 Oct"), with the keys of the results they are about, so each is told once.
    notes: dict[str, str] = field(default_factory=dict)
    # The event's peak (highest value, latest collection time of it), kept as evidence is
    # added so that appending a finding costs the same whatever the event's length.
    _peak: tuple[float, float] | None = None

    def peak(self) -> tuple[float, float]:
        if self._peak is None:
            found = list(self.evidence.values())
            if self.settled is not None:
                found += [self.settled.first, self.settled.worst, self.settled.latest]
            best = max(found, key=lambda f: (f.value_mmol_l, f.collected_at))
            self._peak = (best.value_mmol_l, best.collected_at.timestamp())
        return self._peak

    def add_to_event(self, f: Finding) -> None:
        self.evidence[f.result_key] = f
        if self._peak is not None and f.value_mmol_l >= self._peak[0]:
            self._peak = (f.value_mmol_l, f.collected_at.timestamp())

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
    elif f.rule == AQUARESIS_WARNING:  # the highest rate; an osmolality finding below it
        score = f.extra.get("rate_ml_h", 0.0)
    else:
        score = f.rise_mmol_l or 0.0
    return (f.severity == "critical", score, f.collected_at)


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # raised / updated / withdrawn / resolved (its stay ended: engine.stays)
    alert: AlertRecord
    note: str | None = None  # a line for the alert's history


def reconcile(
    alerts: Iterable[AlertRecord],
    findings: Iterable[Finding],
    reevaluated: Collection[str],
    new_id: Callable[[str], str],
    relowering_hours: float = 48.0,
    withdraw_reason: str | None = None,
) -> list[Change]:
    """Fold the findings of re-evaluated results into a patient's alerts (in place).

    `reevaluated` holds the keys of every result whose findings were recomputed (including
    results that were removed): their old evidence is replaced by the new findings.
    """
    alerts = list(alerts)
    active: dict[str, list[AlertRecord]] = {}
    for a in alerts:
        if a.state == ACTIVE:
            active.setdefault(a.rule, []).append(a)
    findings = list(findings)
    if not active and not findings:
        return []
    by_rule: dict[str, list[Finding]] = {}
    for f in findings:
        by_rule.setdefault(f.rule, []).append(f)
    changes: list[Change] = []
    taken = {a.event for a in alerts if a.state == ACTIVE and a.event}
    for rule in sorted((set(active) | set(by_rule)) & RATE_RULES):
        changes += _events(rule, active.get(rule, []), by_rule.get(rule, []), reevaluated,
                           new_id, taken)
    # The overcorrections a fall may re-lower, raised now or open before; a projection is
    # no overcorrection, whether it was raised in this pass or an earlier one (else the
    # order results arrived in would decide whether a fall warns).
    open_rate = [a for a in [c.alert for c in changes if c.kind == "raised"] + [
        a for a in alerts if a.state == ACTIVE]
        if a.rule in (OVERCORRECTION_24H, OVERCORRECTION_48H)]
    for rule in sorted((set(active) | set(by_rule)) - RATE_RULES):
        fresh = by_rule.get(rule, [])
        if rule == FALLING_SODIUM:
            fresh, notes = _relowering(fresh, open_rate, relowering_hours)
            changes += notes
        alert = active[rule][0] if rule in active else None
        if alert is None:
            if not fresh:
                continue
            alert = AlertRecord(alert_id=new_id(rule), rule=rule)
            alert.evidence = {f.result_key: f for f in fresh}
            changes.append(Change("raised", alert))
            continue
        changes += _fold(alert, fresh, reevaluated)
    if withdraw_reason:  # why the evidence went, when the caller knows better
        for change in changes:
            if change.kind == "withdrawn":
                change.alert.withdrawn_reason = withdraw_reason
    return changes


def _fold(alert: AlertRecord, fresh: list[Finding], reevaluated: Collection[str]
          ) -> list[Change]:
    before = dict(alert.evidence)
    gone = [k for k in alert.evidence if k in reevaluated]
    for key in gone:
        del alert.evidence[key]
    alert.evidence.update((f.result_key, f) for f in fresh)
    if not alert.evidence and alert.settled is None:
        alert.state = WITHDRAWN
        alert.evidence = before
        alert.withdrawn_reason = (
            f"{alert.rule} no longer holds for any counted result after result "
            f"{', '.join(sorted(gone))} was corrected or removed"
        )
        return [Change("withdrawn", alert)]
    if alert.evidence != before:
        return [Change("updated", alert)]
    return []


def _from(f: Finding) -> float:
    """When the value the finding's window rises from was collected (epoch seconds); a
    finding that does not say belongs to the open event."""
    return f.extra.get("from_at", -math.inf)


def _events(rule: str, open_alerts: list[AlertRecord], fresh: list[Finding],
            reevaluated: Collection[str], new_id: Callable[[str], str],
            taken: set[str]) -> list[Change]:
    """Partition the rule's evidence into events and match them to its open alerts."""
    fast = _appended(rule, open_alerts, fresh, reevaluated, new_id, taken)
    if fast is not None:
        return fast
    pool: dict[str, Finding] = {}
    for a in open_alerts:
        pool.update((k, f) for k, f in a.evidence.items() if k not in reevaluated)
    pool.update((f.result_key, f) for f in fresh)
    # An alert whose evidence before the live horizon is summarised opens its event there.
    settled = sorted((a for a in open_alerts if a.settled is not None),
                     key=lambda a: (a.settled.latest.collected_at if a.settled else 0))
    groups: list[tuple[AlertRecord | None, list[Finding]]] = []
    peak_v, peak_t = -math.inf, -math.inf
    for a in settled:
        assert a.settled is not None
        groups.append((a, []))
        s = a.settled
        best = max((s.first, s.worst, s.latest), key=lambda f: (f.value_mmol_l, f.collected_at))
        peak_v, peak_t = best.value_mmol_l, best.collected_at.timestamp()
    for f in sorted(pool.values(), key=lambda f: (f.collected_at, f.result_key)):
        if not groups or _from(f) > peak_t:
            groups.append((None, []))
            peak_v, peak_t = -math.inf, -math.inf
        groups[-1][1].append(f)
        if f.value_mmol_l >= peak_v:
            peak_v, peak_t = f.value_mmol_l, f.collected_at.timestamp()
    # Match: the alert whose event opened the group, else the one holding most of it.
    free = [a for a in open_alerts if a.settled is None]
    matched: list[tuple[AlertRecord | None, list[Finding]]] = []
    for owner, members in groups:
        if owner is None:
            keys = {f.result_key for f in members}
            owner = next((a for a in free if a.event in keys), None) or max(
                (a for a in free if keys & set(a.evidence)),
                key=lambda a: (len(keys & set(a.evidence)), -a.triggered_at.timestamp()),
                default=None)
            if owner is not None:
                free.remove(owner)
        matched.append((owner, members))
    changes: list[Change] = []
    for owner, members in matched:
        if owner is None:
            alert = AlertRecord(alert_id=new_id(rule), rule=rule,
                                event=_unique(members[0].result_key, taken))
            alert.evidence = {f.result_key: f for f in members}
            changes.append(Change("raised", alert))
            continue
        before = dict(owner.evidence)
        owner.evidence = {f.result_key: f for f in members}
        owner._peak = None
        if owner.evidence != before:
            changes.append(Change("updated", owner))
    for alert in free:  # open alerts no event is left for
        gone = sorted(k for k in alert.evidence if k not in pool)
        alert.state = WITHDRAWN
        alert.withdrawn_reason = (
            f"{rule} no longer holds for any counted result after result "
            f"{', '.join(gone)} was corrected or removed" if gone else
            f"{rule}: later results show this rise is part of an earlier overcorrection "
            f"event, which holds it")
        changes.append(Change("withdrawn", alert))
    return changes


def _appended(rule: str, open_alerts: list[AlertRecord], fresh: list[Finding],
              reevaluated: Collection[str], new_id: Callable[[str], str],
              taken: set[str]) -> list[Change] | None:
    """The usual case, in O(new findings): nothing held changes and every new finding comes
    after all the evidence, so the walk goes on from the latest event. None otherwise."""
    if not fresh or any(k in a.evidence for k in reevaluated for a in open_alerts):
        return None if fresh or any(k in a.evidence for k in reevaluated
                                    for a in open_alerts) else []
    current = max(open_alerts, key=lambda a: a.latest.collected_at, default=None)
    ordered = sorted(fresh, key=lambda f: (f.collected_at, f.result_key))
    if current is not None and any(a.latest.collected_at >= ordered[0].collected_at
                                   for a in open_alerts):
        return None
    changes: list[Change] = []
    for f in ordered:
        if current is None or _from(f) > current.peak()[1]:
            current = AlertRecord(alert_id=new_id(rule), rule=rule,
                                  event=_unique(f.result_key, taken))
            current.evidence = {f.result_key: f}
            changes.append(Change("raised", current))
            continue
        current.add_to_event(f)
        if not any(c.alert is current for c in changes):
            changes.append(Change("updated", current))
    return changes


def _unique(key: str, taken: set[str]) -> str:
    event, n = key, 1
    while event in taken:
        n += 1
        event = f"{key}#{n}"
    taken.add(event)
    return event


def _relowering(falls: list[Finding], overcorrections: list[AlertRecord], hours: float
                ) -> tuple[list[Finding], list[Change]]:
    """After an overcorrection, bringing sodium down again is the treatment (re-lowering),
    not a fall to warn about, as long as it stays at or above the event's lowest value and
    comes within `hours` of the event's latest finding. The event's alert notes it."""
    if not falls or not overcorrections:
        return falls, []
    kept: list[Finding] = []
    notes: list[Change] = []
    for f in falls:
        # Every overcorrection alert of the event tells it (the 24 h and the 48 h one), so
        # which of them was loaded or raised first cannot change the history.
        events = [a for a in overcorrections if _relowers(f, a, hours)]
        if not events:
            kept.append(f)
            continue
        t = f.collected_at
        note = f"re-lowered to {_n(f.value_mmol_l)} at {clock(t)}"
        for event in events:
            if note not in event.notes.values():  # told once, also across batches
                event.notes[f.result_key] = note
                notes.append(Change("updated", event, note))
    return kept, notes


def _relowers(f: Finding, event: AlertRecord, hours: float) -> bool:
    first, latest = event.first, event.latest
    lowest = min(x.extra.get("low_mmol_l", x.value_mmol_l)
                 for x in (first, event.worst, latest))
    return (first.collected_at < f.collected_at
            and (f.collected_at - latest.collected_at).total_seconds() <= hours * 3600
            and f.value_mmol_l >= lowest)


