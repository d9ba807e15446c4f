"""Process one inbox row: parse, store results idempotently, evaluate, write alerts.

Everything happens in one transaction with the inbox row locked, so a redelivered or
duplicated task finds the row done and does nothing twice, and alerts are visible exactly
when the results that raised them are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import literal, select, union_all
from sqlalchemy.orm import Session

from monitor.engine.model import Measurement, PatientRef
from monitor.engine.policy import Policy
from monitor.engine.versions import Effective
from monitor.ingest.dispatch import parse_text
from monitor.ingest.events import (
    DiagnosisEvent,
    Item,
    MergeEvent,
    PatientEvent,
    Reject,
    ResultEvent,
)
from monitor.services.evaluation import Evaluated, evaluate_patient
from monitor.services.inbox import screen
from monitor.services.patients import apply_diagnosis, apply_movement, merge
from monitor.services.ward_policy import policy_for
from monitor.storage.repos.patients import lock, patient_id, ward_id
from monitor.storage.repos.results import add_version, measurement_key, refresh_current
from monitor.storage.tables import InboxItem, InboxPatient
from monitor.storage.uow import UnitOfWork

IMPORT_FEED = "import"  # backfill: recorded and shown, never paged


@dataclass(frozen=True)
class Pipeline:
    """What processing needs besides the database: policy, time zone, paging age."""

    policy: Policy
    tz: ZoneInfo
    notify_max_age: timedelta = timedelta(hours=24)
    local_codes: Mapping[str, str] = field(default_factory=dict)


def parse_payload(fmt: str, payload: bytes, source: str, p: Pipeline) -> Iterable[Item]:
    text = payload.decode("utf-8", errors="replace")
    return parse_text(source, text, fmt, p.tz, p.local_codes)


@dataclass
class _Touched:
    since: datetime | None = None
    full: bool = False
    keys: set[str] = field(default_factory=set)
    # Results whose later versions were processed first: evaluated as of this version
    # first, so the alert history is the one in-order processing would have written.
    as_of: dict[str, Measurement | None] = field(default_factory=dict)
    notify: bool = False

    def at(self, moment: datetime) -> None:
        self.since = moment if self.since is None else min(self.since, moment)


def _events(item: InboxItem, p: Pipeline) -> list[Item]:
    parsed = screen(parse_payload(item.format, item.payload, f"inbox:{item.id}", p),
                    item.received_at)
    return [i for i in parsed if not isinstance(i, Reject)]  # recorded when received


@dataclass(frozen=True)
class Processed:
    status: str  # processed / already-done / missing
    deliveries: tuple[int, ...] = ()  # notifications to send now that it is committed
    alerts: tuple[int, ...] = ()  # alerts raised or changed, for the live dashboards


def process_inbox_item(uow: UnitOfWork, inbox_id: int, p: Pipeline, now: datetime
                       ) -> Processed:
    """Process one inbox row exactly once, after its patients' earlier pending rows.

    Locks are always taken patients first, then inbox rows, so workers never deadlock; the
    patients' rows are applied in arrival order whichever task reached them first.
    """
    s = uow.session
    item = s.get(InboxItem, inbox_id)
    if item is None:
        return Processed("missing")
    if item.state != "pending":
        return Processed("already-done")
    events = _events(item, p)
    pids = _lock_patients(s, events, now)
    keys = [str(ref) for ref in pids]
    # Found through inbox_patients (indexed by patient), bounded by this row's id: scanning
    # the inbox by id instead grows slower with every message ever received.
    mine = union_all(
        select(InboxPatient.inbox_id).where(InboxPatient.patient_key.in_(keys),
                                            InboxPatient.inbox_id <= inbox_id),
        select(literal(inbox_id)))
    rows = s.scalars(
        select(InboxItem).where(InboxItem.id.in_(mine), InboxItem.state == "pending")
        .order_by(InboxItem.id).with_for_update().execution_options(populate_existing=True)
    ).all()
    if inbox_id not in {row.id for row in rows}:
        return Processed("already-done")  # another worker took it while we waited
    deliveries: list[int] = []
    alerts: list[int] = []
    for row in rows:
        try:
            row_events = events if row.id == inbox_id else _events(row, p)
        except Exception:  # parsing is pure (no database): the row fails in its own task
            continue  # so one unparsable payload never fails the patient's later ones
        if row.id != inbox_id and not _patients_of(row_events) <= set(pids):
            continue  # it concerns a patient not locked here: its own task takes it
        row.attempts += 1
        # Evaluated row by row, so the alert history is the one of arrival order.
        touched: dict[int, _Touched] = {}
        _apply(s, row, row_events, pids, touched, p, now)
        found = _evaluate(s, touched, p, now)
        deliveries += found.deliveries
        alerts += found.alerts
        row.state, row.processed_at, row.error = "done", now, None
    uow.commit()
    return Processed("processed", tuple(deliveries), tuple(alerts))


def _evaluate(s: Session, touched: dict[int, _Touched], p: Pipeline,
              now: datetime) -> Evaluated:
    deliveries: list[int] = []
    alerts: list[int] = []
    for pid, t in sorted(touched.items()):
        since = None if t.full else t.since
        passes = [t.as_of, None] if t.as_of else [None]
        policy = policy_for(s, pid, p.policy)
        for override in passes:
            done = evaluate_patient(s, pid, since, policy, notify=t.notify, now=now,
                                    extra_keys=frozenset(t.keys), override=override)
            deliveries += done.deliveries
            alerts += done.alerts
    return Evaluated([], deliveries, alerts)


def _apply(s: Session, item: InboxItem, events: list[Item], pids: dict[PatientRef, int],
           touched: dict[int, _Touched], p: Pipeline, now: datetime) -> None:
    """Store what one inbox row says: result versions, diagnoses, movements, merges."""
    for index, event in enumerate(events):
        seq = item.id * 10_000 + index  # arrival order: inbox sequence, then message order
        if isinstance(event, ResultEvent):
            pid = pids[event.patient]
            t = touched.setdefault(pid, _Touched())
            add_version(s, pid, event, item.feed, item.id, seq, item.received_at)
            changed = refresh_current(s, pid, item.feed, event.result_key, seq)
            for eff in (changed.before, changed.after, changed.as_of):
                if eff is not None and eff.counted:
                    t.at(eff.collected_at)
            key = measurement_key(item.feed, event.result_key)
            t.keys.add(key)
            if changed.as_of != changed.after and changed.as_of != changed.before:
                t.as_of[key] = _measurement(key, event, changed.as_of)
            # Never page for the past, for backfill or for test messages (MSH-11 T/D).
            fresh = now - event.collected_at <= p.notify_max_age
            t.notify = t.notify or (fresh and not event.test and item.feed != IMPORT_FEED)
            if event.ward:
                apply_movement(s, pid, ward_id(s, event.ward, now), event.bed, None, now)
        elif isinstance(event, DiagnosisEvent):
            pid = pids[event.patient]
            if apply_diagnosis(s, pid, event, now):
                touched.setdefault(pid, _Touched()).full = True
        elif isinstance(event, PatientEvent):
            ward = ward_id(s, event.ward, now) if event.ward else None
            apply_movement(s, pids[event.patient], ward, event.bed, event.discharged, now)
        elif isinstance(event, MergeEvent):
            survivor = pids[event.survivor]
            merge(s, pids[event.old], survivor, now)
            touched.setdefault(survivor, _Touched()).full = True


def _measurement(key: str, event: ResultEvent, eff: Effective | None) -> Measurement | None:
    if eff is None or not eff.counted or eff.value_mmol_l is None:
        return None
    return Measurement(key, event.analyte, eff.value_mmol_l, eff.collected_at, event.method)


def _patients_of(events: Sequence[Item]) -> set[PatientRef]:
    refs: set[PatientRef] = set()
    for e in events:
        if isinstance(e, MergeEvent):
            refs |= {e.survivor, e.old}
        elif isinstance(e, ResultEvent | DiagnosisEvent | PatientEvent):
            refs.add(e.patient)
    return refs


def _lock_patients(s: Session, events: Sequence[Item], now: datetime) -> dict[PatientRef, int]:
    """Register and lock every patient of the message, in one order (no deadlocks)."""
    refs = _patients_of(events)
    ids = {ref: patient_id(s, ref, now) for ref in sorted(refs, key=str)}
    for pid in sorted(ids.values()):
        lock(s, pid)
    return ids
