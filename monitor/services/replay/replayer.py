"""`sodium-monitor replay`: evaluate recorded feeds statelessly and report the final alerts.

Inputs are read in the order given and, within a file, in file order: that is the arrival
order. Nothing is compared with the wall clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any
from zlib import crc32

from monitor.engine.ledger import PatientLedger, absorb
from monitor.engine.messages import message
from monitor.engine.model import PatientRef
from monitor.engine.policy import Policy
from monitor.engine.reconcile import AlertRecord
from monitor.engine.treatment import classify
from monitor.ingest.events import (
    AcuteMarkEvent,
    DiagnosisEvent,
    Item,
    MedicationEvent,
    MergeEvent,
    PatientEvent,
    PatientLinkEvent,
    Reject,
    ResultEvent,
    UnmappedCode,
    link_reason,
)
from monitor.services.intake.unmapped import unmapped_codes


class SplitMerge(Exception):
    """An ADT^A40 joins patients that a partitioned run keeps apart: run it in one piece."""


@dataclass
class Replay:
    """The state of one replay run: a ledger per patient, the rejects, the arrival counter."""

    policy: Policy
    patients: dict[PatientRef, PatientLedger] = field(default_factory=dict)
    # The zone messages give clock times in (SODIUM_TIMEZONE, as the feeds' local times).
    tz: tzinfo = UTC
    rejects: list[Reject] = field(default_factory=list)
    seq: int = 0
    results: int = 0
    # Patients are independent, so a run may be split across processes by patient.
    part: int = 0
    parts: int = 1
    # The codes seen and not used (services.intake.unmapped), by (system, code).
    unused: Counter[tuple[str, str]] = field(default_factory=Counter)
    # In a split run, the codes not used by where they were seen: (position, system, code).
    unused_at: set[tuple[str, str, str]] = field(default_factory=set)
    # The hospital's medication codes: local code -> class (SODIUM_MEDICATION_MAP).
    medication_map: dict[str, str] = field(default_factory=dict)

    def mine(self, patient: PatientRef) -> bool:
        return self.parts == 1 or self.owns(patient.identifier)

    def owns(self, identifier: str) -> bool:
        return crc32(identifier.encode()) % self.parts == self.part

    def ledger(self, patient: PatientRef) -> PatientLedger:
        found = self.patients.get(patient)
        if found is None:
            found = self.patients[patient] = PatientLedger(self.policy, defer_appends=True)
        return found

    def _ids(self, patient: PatientRef) -> Callable[[str], str]:
        ledger = self.ledger(patient)

        def new_id(rule: str) -> str:
            n = sum(1 for a in ledger.alerts if a.rule == rule) + 1
            return f"{patient.authority}|{patient.identifier}|{rule}|{n}"

        return new_id

    def apply(self, item: Item) -> None:
        self.seq += 1
        if isinstance(item, Reject):
            self.rejects.append(item)  # a split run de-duplicates them when it joins
        elif isinstance(item, MergeEvent):
            self._merge(item.survivor, item.old,
                        f"patient {item.old} merged into {item.survivor}")
        elif isinstance(item, PatientLinkEvent):
            self._link(item)
        elif isinstance(item, UnmappedCode):
            if self.parts == 1 or item.partitioned:
                self.unused[(item.system, item.code)] += item.count
            else:  # a line may be read by one part or by all: the join counts each once
                self.unused_at.add((item.position, item.system, item.code))
        elif not self.mine(item.patient):
            return
        elif isinstance(item, ResultEvent):
            ledger = self.ledger(item.patient)
            ledger.add_result(
                item.result_key, item.analyte, item.method, item.status, item.value_mmol_l,
                item.collected_at, self.seq, item.test, self._ids(item.patient),
                item.key_inferred, flag=item.flag, started_at=item.started_at)
            if ledger.refused:
                # Replay applies in arrival order, so a refusal is always this result's.
                self.rejects += [Reject(item.position, r.text(), item.value_raw)
                                 for r in ledger.take_refused()]
            else:
                self.results += 1
        elif isinstance(item, DiagnosisEvent):
            self.unused.update(unmapped_codes([item], self.policy, self.medication_map))
            self.ledger(item.patient).state_diagnosis(item.diagnosis, self._ids(item.patient))
        elif isinstance(item, AcuteMarkEvent):
            self.ledger(item.patient).mark_acute(item.onset, self._ids(item.patient))
        elif isinstance(item, MedicationEvent):
            ledger = self.ledger(item.patient)  # as live: classified, then stated
            ledger.add_medication(classify(item.medication, self.medication_map, ledger.policy),
                                  self._ids(item.patient))
        elif isinstance(item, PatientEvent):
            ledger = self.ledger(item.patient)  # registers the patient; wards matter live
            if item.discharged and not item.test:  # as live: training ends no stay
                ledger.discharge(item.occurred_at, self._ids(item.patient))

    def _merge(self, survivor: PatientRef, old: PatientRef, why: str) -> None:
        if self.mine(old) != self.mine(survivor):
            raise SplitMerge(f"{old} and {survivor} are in different partitions")
        if not self.mine(old):
            return
        ledger = self.patients.pop(old, None)
        if ledger is not None:
            absorb(self.ledger(survivor), ledger, why, self._ids(survivor))

    def _link(self, item: PatientLinkEvent) -> None:
        """A FHIR Patient: what was keyed by its bare logical id joins the patient it names.
        A replay reads every input's Patients first, so this is rare (live, it is not)."""
        if item.reference != item.patient and self.mine(item.reference) \
                and item.reference in self.patients:
            self._merge(item.patient, item.reference, link_reason(item))

    def alerts(self) -> Iterator[dict[str, Any]]:
        for ledger in self.patients.values():
            ledger.flush()
        for patient in sorted(self.patients, key=lambda p: (p.authority, p.identifier)):
            ledger = self.patients[patient]
            for alert in sorted(ledger.alerts, key=lambda a: (a.triggered_at, a.rule)):
                yield alert_json(patient, alert, self.policy, ledger.is_test(alert),
                                 ledger.described_diagnoses(), self.tz)


def alert_json(patient: PatientRef, alert: AlertRecord, policy: Policy,
               test: bool, diagnoses: Iterable[str] = (),
               tz: tzinfo = UTC) -> dict[str, Any]:
    """The alert's JSON shape, shared by replay, `alerts list --format jsonl` and webhooks."""
    worst = alert.worst
    return {
        "alert_id": alert.alert_id,
        "patient_id": patient.identifier,
        "patient_authority": patient.authority,
        "rule": alert.rule,
        "severity": alert.severity,
        "state": alert.state,
        "lifecycle": "unacknowledged" if alert.state == "active" else alert.state,
        "acknowledged_by": None,
        "triggered_at": alert.triggered_at.isoformat(),
        "value_mmol_l": worst.value_mmol_l,
        "rise_mmol_l": worst.rise_mmol_l,
        "window_hours": worst.window_hours,
        "limit_mmol_l": worst.limit_mmol_l,
        "risk_tier": worst.risk_tier,
        "risk_factors": list(worst.risk_factors),
        "mixed_methods": any(f.mixed_methods for f in alert.evidence.values()),
        "test": test,
        "policy": policy.name,
        "message": message(worst, policy, diagnoses, tz),
        "result_key": alert.latest.result_key,
        "withdrawn_reason": alert.withdrawn_reason,
    }
