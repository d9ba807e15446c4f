"""Process a batch of claimed inbox rows: parse each once, load each patient's aggregate
once, apply the rows in arrival order through the engine's ledger (the code replay runs),
save with set-based statements. The caller commits once for the batch.

Within the batch every result is evaluated as it is applied, in memory, so the alert
history (raised, then updated, ...) is the one in-order processing writes; only the
database work is per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from monitor.alerts import lifecycle as lc
from monitor.engine.model import Analyte, PatientRef
from monitor.engine.reconcile import ACTIVE, RESOLVED, AlertRecord, Change
from monitor.engine.rules import HYPERNATREMIA, SEVERE_HYPONATREMIA, still_present
from monitor.engine.versions import Refusal
from monitor.ingest import codec
from monitor.ingest.events import (
    AcuteMarkEvent,
    DiagnosisEvent,
    Item,
    MedicationEvent,
    MergeEvent,
    PatientEvent,
    PatientLinkEvent,
    Person,
    Reject,
    ResultEvent,
    link_reason,
    patients_of,
)
from monitor.services.alerting.actions import CLEARABLE, after_engine_change, clear_gone
from monitor.services.evaluation.claims import Claimed, finish, park, release
from monitor.services.evaluation.patients import apply_acute_mark, apply_diagnosis, merge
from monitor.services.evaluation.treatment import apply_medication, medication_since
from monitor.services.intake.fhir_identity import relink_refused, resolve_payloads
from monitor.services.intake.inbox import record_rejects, screen
from monitor.services.intake.limits import NAME
from monitor.services.intake.pipeline import IMPORT_FEED, Pipeline, parse_payload
from monitor.services.intake.unmapped import record_unmapped
from monitor.storage.repos.common import among, insert_ignore
from monitor.storage.repos.ledgers import (
    SYSTEM,
    Aggregate,
    Scope,
    Staged,
    Written,
    add_version,
    load,
    measurement_key,
    save_alerts,
    save_results,
)
from monitor.storage.repos.patients import learn_fhir_link
from monitor.storage.repos.ward_policy import ward_policies
from monitor.storage.tables import Alert, InboxItem, InboxPatient, Patient, Ward
from monitor.storage.tables.results import POSITIONS_PER_PAYLOAD, arrival_seq
from monitor.storage.uow import UnitOfWork

PATIENTS = cast(Table, Patient.__table__)


@dataclass
class Outcome:
    done: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)  # given back: order across workers
    failed: list[int] = field(default_factory=list)  # parked: the payload cannot be parsed
    deliveries: list[int] = field(default_factory=list)  # to send once committed
    alerts: list[int] = field(default_factory=list)  # raised or changed, for the dashboards


def process_rows(uow: UnitOfWork, rows: Sequence[Claimed], p: Pipeline,
                 now: datetime) -> Outcome:
    """Apply claimed rows (in id order) and stage everything they change; not committed."""
    s, out = uow.session, Outcome()
    parsed: list[tuple[Claimed, list[Item]]] = []
    for row in rows:
        stored = codec.load(row.items)
        if stored is not None:  # parsed and screened at receipt
            parsed.append((row, list(stored)))
            continue
        try:
            items = screen(parse_payload(row.format, row.payload, f"inbox:{row.id}", p),
                           row.received_at, row.format)
        except Exception as error:
            park(uow, row.id, f"cannot be parsed: {type(error).__name__}: {error}", now)
            out.failed.append(row.id)
            continue
        # Parsed here (nothing stored at receipt, e.g. a row received before parsed items
        # were kept): what screening refuses now was never recorded, so it is recorded now.
        record_rejects(uow, [i for i in items if isinstance(i, Reject)], row.feed, row.id, now)
        parsed.append((row, [i for i in items if not isinstance(i, Reject)]))
    parsed = _identified(s, parsed)
    # A FHIR Patient's bare logical id is not registered as a patient: a patient keyed by
    # it exists only when results came before the Patient, and then merges into it.
    refs = {ref for _, items in parsed for e in items
            for ref in patients_of([e] if not isinstance(e, PatientLinkEvent) else [])}
    refs |= {e.patient for _, items in parsed for e in items
             if isinstance(e, PatientLinkEvent)}
    bare = {e.reference for _, items in parsed for e in items
            if isinstance(e, PatientLinkEvent)} - refs
    pids = _register(s, refs, now) | _registered(s, bare)
    patients = _lock(s, sorted(set(pids.values())), skip_locked=True)
    busy = {ref for ref, pid in pids.items() if pid not in patients}
    blocked = _blocked(s, [(row.id, patients_of(items)) for row, items in parsed], busy)
    work: list[tuple[Claimed, list[Item]]] = []
    for row, items in parsed:
        if patients_of(items) & blocked:
            out.deferred.append(row.id)
        else:
            work.append((row, items))
    release(uow, out.deferred)
    batch = _Batch(uow, p, now, pids, patients)
    batch.load(work)
    for row, items in work:
        batch.apply(row, items)
    record_unmapped(s, [(row.feed, items) for row, items in work], p.policy, now,
                    p.medication_map)
    batch.save(out)
    finish(uow, [row.id for row, _ in work], now)
    out.done = [row.id for row, _ in work]
    return out


def reevaluate_current(uow: UnitOfWork, pid: int, p: Pipeline, now: datetime,
                       actor: str = SYSTEM, cause: str | None = None) -> Outcome:
    """Re-evaluate a patient's current episode from storage (diagnoses or acute marks
    changed outside the inbox) under the patient's lock and their ward's policy (`p.policy`
    where the ward has none); not committed. The alerts it withdraws are withdrawn by
    `actor`, for `cause` (see Ledger.reevaluate)."""
    out = Outcome()
    batch = _Batch(uow, p, now, {}, _lock(uow.session, [pid]))
    batch.actor = actor
    agg = batch._agg(pid)
    batch._record(pid, agg.ledger.reevaluate(None, agg.new_id, cause=cause), True)
    batch.save(out)
    return out


def _identified(s: Session, parsed: list[tuple[Claimed, list[Item]]]
                ) -> list[tuple[Claimed, list[Item]]]:
    """FHIR rows resolved again through the Patients seen so far: one may have arrived
    since the row was received (see intake.fhir_identity)."""
    fhir = [i for i, (row, _) in enumerate(parsed) if row.format == "fhir"]
    if not fhir:
        return parsed
    out = list(parsed)
    for i, items in zip(fhir, resolve_payloads(s, [parsed[i][1] for i in fhir]), strict=True):
        out[i] = (parsed[i][0], items)
    return out


def _registered(s: Session, refs: set[PatientRef]) -> dict[PatientRef, int]:
    """The ids of those of `refs` already registered (and not merged away)."""
    if not refs:
        return {}
    found = {PatientRef(a, i): pid for pid, a, i in s.execute(select(
        Patient.id, Patient.authority, Patient.identifier).where(
        among(s, Patient.identifier, sorted({r.identifier for r in refs})),
        Patient.merged_into_id.is_(None)))}
    return {ref: pid for ref, pid in found.items() if ref in refs}


def _register(s: Session, refs: set[PatientRef], now: datetime) -> dict[PatientRef, int]:
    """Every patient's id, registering those seen for the first time (no ADT needed)."""
    if not refs:
        return {}

    def known() -> dict[PatientRef, int]:
        # By identifier alone (ix_patients_identifier_authority), the authority checked
        # here: a row-value IN, or an authority list (one or two values in a hospital),
        # led PostgreSQL's plans to scan every patient.
        found = {PatientRef(a, i): pid for pid, a, i in s.execute(select(
            Patient.id, Patient.authority, Patient.identifier).where(
            among(s, Patient.identifier, sorted({r.identifier for r in refs}))))}
        return {ref: pid for ref, pid in found.items() if ref in refs}

    found = known()
    missing = sorted(refs - set(found), key=str)
    if missing:
        insert_ignore(s, Patient.__table__, [  # type: ignore[arg-type]
            {"authority": ref.authority, "identifier": ref.identifier, "created_at": now,
             "updated_at": now} for ref in missing], ["authority", "identifier"])
    return known() if missing else found


def _lock(s: Session, pids: list[int], skip_locked: bool = False
          ) -> dict[int, dict[str, Any]]:
    """Hold the patients' rows until commit, always in id order (no deadlocks): one patient
    is evaluated by one worker at a time, on data no one else is changing. `skip_locked`:
    leave out the patients another worker holds (their rows wait for the next batch) rather
    than wait for them."""
    if not pids:
        return {}
    return {r.id: r._asdict() for r in s.execute(select(
        Patient.id, Patient.ward_id, Patient.room, Patient.bed, Patient.discharged_at,
        Patient.display_name, Patient.birth_date, Patient.sex, Patient.stay_ended_at).where(
        among(s, Patient.id, pids)).order_by(Patient.id).with_for_update(skip_locked=skip_locked))}


def _blocked(s: Session, rows: list[tuple[int, set[PatientRef]]],
             busy: set[PatientRef]) -> set[PatientRef]:
    """Patients another worker is processing (`busy`), or with a pending row older than the
    batch's first row of them that the batch does not hold (another worker has it, or it
    committed late): their rows wait, so each patient's rows are applied in arrival order
    across workers and hosts."""
    first: dict[str, int] = {}
    for inbox_id, refs in rows:
        for ref in refs:
            first.setdefault(str(ref), inbox_id)
    if not first:
        return set()
    mine = {inbox_id for inbox_id, _ in rows}
    earlier = s.execute(select(InboxPatient.patient_key, InboxPatient.inbox_id)
                        .join(InboxItem, InboxItem.id == InboxPatient.inbox_id)
                        .where(among(s, InboxPatient.patient_key, sorted(first)),
                               InboxPatient.inbox_id < max(first.values()),
                               InboxItem.state == "pending")).all()
    keys = {key for key, inbox_id in earlier
            if inbox_id < first[key] and inbox_id not in mine}
    blocked = {ref for _, refs in rows for ref in refs if str(ref) in keys} | busy
    # A deferred row defers its other patients' later rows too (a merge names two).
    changed = True
    while changed:
        changed = False
        for _, refs in rows:
            if refs & blocked and not refs <= blocked:
                blocked |= refs
                changed = True
    return blocked


# A name is shown, never matched: one longer than its column is cut, not refused (a sodium
# result must not be lost over a name), and a NUL byte, which PostgreSQL refuses, dropped.


def _stored(text: str | None, limit: int) -> str | None:
    return text.replace("\x00", "").strip()[:limit] or None if text else None


@dataclass
class _Move:
    """Where a patient is and who they are, as the batch's messages leave them, and the
    latest end of a stay the engine has seen (engine.stays)."""

    ward: int | None
    room: str | None
    bed: str | None
    discharged: datetime | None
    display_name: str | None
    birth_date: date | None
    sex: str | None
    stay_ended: datetime | None

    FIELDS = ("ward_id", "room", "bed", "discharged_at", "display_name", "birth_date", "sex",
              "stay_ended_at")

    @classmethod
    def of(cls, info: dict[str, Any]) -> _Move:
        return cls(*(info[f] for f in cls.FIELDS))

    def values(self) -> tuple[Any, ...]:
        return (self.ward, self.room, self.bed, self.discharged, self.display_name,
                self.birth_date, self.sex, self.stay_ended)


class _Batch:
    """The aggregates of one batch and what applying its rows changed."""

    def __init__(self, uow: UnitOfWork, p: Pipeline, now: datetime,
                 pids: dict[PatientRef, int], patients: dict[int, dict[str, Any]]) -> None:
        self.uow, self.s, self.p, self.now, self.pids = uow, uow.session, p, now, pids
        self.patients = patients
        self.aggs: dict[int, Aggregate] = {}
        self.changes: dict[int, list[Staged]] = {}
        # Per patient, band alerts whose condition was gone at some sodium of the batch, with
        # that value: they clear, as one row at a time would have cleared them then.
        self.clear_at: dict[int, dict[int, tuple[AlertRecord, float]]] = {}
        self.wards: dict[str, int] = {}
        # Where each locked patient is; the batch's ADT and ORU moves change it.
        self.moves = {pid: _Move.of(info) for pid, info in patients.items()}
        self.keys: dict[int, set[tuple[str, str]]] = {}  # (feed, result key) per patient
        # What saving before a merge produced, reported with the batch.
        self.pending_out: list[Outcome] = []
        self.actor = SYSTEM  # who withdraws what the batch withdraws

    # -- loading
    def load(self, work: list[tuple[Claimed, list[Item]]]) -> None:
        codes = {e.ward for _, items in work for e in items
                 if isinstance(e, ResultEvent | PatientEvent) and e.ward}
        self.wards = _ward_ids(self.s, codes, self.now)
        for _, items in work:
            for e in items:
                if isinstance(e, ResultEvent | PatientEvent):
                    self._move(e)
                elif isinstance(e, PatientLinkEvent) and e.person:
                    self._identify(self.moves[self.pids[e.patient]], e.person)
        since: dict[int, datetime | None] = {}
        keys: dict[int, set[tuple[str, str]]] = {}
        for row, items in work:
            for e in items:
                if isinstance(e, ResultEvent):
                    pid = self.pids[e.patient]
                    keys.setdefault(pid, set()).add((row.feed, e.result_key))
                    if pid not in since or (since[pid] is not None and
                                            e.collected_at < since[pid]):  # type: ignore
                        since[pid] = e.collected_at
                elif isinstance(e, MedicationEvent):
                    pid = self.pids[e.patient]
                    keys.setdefault(pid, set())
                    at = medication_since(e.medication, self.p.policy)
                    if pid not in since or (since[pid] is not None and
                                            at < since[pid]):  # type: ignore
                        since[pid] = at
                elif isinstance(e, DiagnosisEvent | AcuteMarkEvent) or \
                        (isinstance(e, PatientEvent) and e.discharged):
                    since[self.pids[e.patient]] = None
                    keys.setdefault(self.pids[e.patient], set())
        self.keys = keys
        self._load({pid: Scope(since.get(pid), frozenset(k)) for pid, k in keys.items()})

    def _load(self, scopes: dict[int, Scope]) -> None:
        scopes = {pid: sc for pid, sc in scopes.items() if pid not in self.aggs}
        if not scopes:
            return
        # By the ward the batch has put each patient on (its moves are saved later).
        wards = {pid: self.moves[pid].ward if pid in self.moves else None for pid in scopes}
        by_ward = ward_policies(self.s, wards.values(), self.p.policy)
        loaded = load(self.s, scopes, {pid: by_ward[w] for pid, w in wards.items()})
        for pid, agg in loaded.items():
            if pid in self.moves:
                agg.ledger.stay_ended_at = self.moves[pid].stay_ended
        self.aggs.update(loaded)

    def _agg(self, pid: int) -> Aggregate:
        if pid not in self.aggs:  # after a merge: reloaded for the current episode
            self._load({pid: Scope(None, frozenset(self.keys.get(pid, ())))})
        return self.aggs[pid]

    def _move(self, e: ResultEvent | PatientEvent) -> None:
        m = self.moves[self.pids[e.patient]]
        if e.ward:
            m.ward = self.wards[e.ward]
        if e.room:
            m.room = e.room
        if e.bed:
            m.bed = e.bed
        if e.person:
            self._identify(m, e.person)
        if isinstance(e, PatientEvent):
            if e.discharged is True:
                m.discharged = self.now
            elif e.discharged is False:
                m.discharged = None

    @staticmethod
    def _identify(m: _Move, person: Person) -> None:
        """What the feed sends replaces what it sent before; blanks keep it."""
        m.display_name = _stored(person.name, NAME) or m.display_name
        m.birth_date = person.birth_date or m.birth_date
        m.sex = person.sex or m.sex

    # -- applying
    def apply(self, row: Claimed, items: list[Item]) -> None:
        for position, e in enumerate(items):
            if isinstance(e, ResultEvent):
                self._result(row, position, e)
            elif isinstance(e, DiagnosisEvent):
                pid = self.pids[e.patient]
                if apply_diagnosis(self.uow, pid, e, self.now):  # stored as replay states it
                    agg = self._agg(pid)
                    self._record(pid, agg.ledger.state_diagnosis(e.diagnosis, agg.new_id), True)
            elif isinstance(e, AcuteMarkEvent):
                pid = self.pids[e.patient]
                if apply_acute_mark(self.uow, pid, e, row.feed, self.now):
                    agg = self._agg(pid)
                    self._record(pid, agg.ledger.mark_acute(e.onset, agg.new_id),
                                 row.feed != IMPORT_FEED)  # never page for backfill
            elif isinstance(e, MedicationEvent):
                pid = self.pids[e.patient]
                agg = self._agg(pid)
                med = apply_medication(self.uow, pid, e, row.feed, self.p.medication_map,
                                       agg.ledger.policy, self.now)
                if med is not None:  # stored as replay applies it
                    # Never page for the past, for backfill or for test messages.
                    fresh = self.now - med.at <= self.p.notify_max_age and not e.test \
                        and row.feed != IMPORT_FEED
                    self._record(pid, agg.ledger.add_medication(med, agg.new_id), fresh)
            elif isinstance(e, PatientEvent) and e.discharged and not e.test:
                # A training discharge (MSH-11 T/D) must not close a real patient's alerts.
                pid = self.pids[e.patient]
                agg = self._agg(pid)
                self._record(pid, agg.ledger.discharge(e.occurred_at, agg.new_id), True)
            elif isinstance(e, MergeEvent):
                self._merge(self.pids[e.old], self.pids[e.survivor])
            elif isinstance(e, PatientLinkEvent):
                self._link(row, e)

    def _link(self, row: Claimed, e: PatientLinkEvent) -> None:
        """A FHIR Patient: learn its link, and merge what was keyed by its bare id."""
        stored = learn_fhir_link(self.s, e.reference.identifier, e.patient, self.now)
        if stored != e.patient:  # linked meanwhile by a concurrent payload
            record_rejects(self.uow, [relink_refused(e, stored)], row.feed, row.id, self.now)
            return
        old = self.pids.get(e.reference)
        if old is not None:
            self._merge(old, self.pids[e.patient], link_reason(e))

    def _result(self, row: Claimed, position: int, e: ResultEvent) -> None:
        pid = self.pids[e.patient]
        agg = self._agg(pid)
        seq = arrival_seq(row.id, position)
        if not add_version(agg, e, row.feed, row.id, seq, row.received_at):
            return
        # Never page for the past, for backfill or for test messages (MSH-11 T/D).
        fresh = self.now - e.collected_at <= self.p.notify_max_age and not e.test \
            and row.feed != IMPORT_FEED
        changes = agg.ledger.add_result(
            measurement_key(row.feed, e.result_key), e.analyte, e.method, e.status,
            e.value_mmol_l, e.collected_at, seq, e.test, agg.new_id, e.key_inferred,
            flag=e.flag, started_at=e.started_at)
        if agg.ledger.refused:
            self._refused(row, e, seq, agg.ledger.take_refused())
        self._record(pid, changes, fresh)
        sodium = agg.ledger.series[Analyte.SODIUM].values
        if e.analyte is Analyte.SODIUM and sodium:
            gone = self.clear_at.setdefault(pid, {})
            for a in agg.ledger.alerts:
                if a.state == ACTIVE and a.rule in (SEVERE_HYPONATREMIA, HYPERNATREMIA) \
                        and not still_present(a.rule, sodium[-1], agg.ledger.policy):
                    gone.setdefault(id(a), (a, sodium[-1]))  # the first value clears it
                    stored = agg.alert_rows.get(a.alert_id)
                    if stored is not None and stored["lifecycle"] == lc.ACKNOWLEDGED:
                        # Clearing resolves an acknowledged alert, as one row at a time
                        # would now: a later finding of the batch raises a new one.
                        a.state = RESOLVED

    def _refused(self, row: Claimed, e: ResultEvent, seq: int,
                 refused: list[Refusal]) -> None:
        """Versions the engine refused become reject rows, as replay reports them. One
        refused belatedly (processed before a removal that arrived before it but committed
        late) is named by its own inbox row."""
        for r in refused:
            if r.arrival_seq == seq:
                record_rejects(self.uow, [Reject(e.position, r.text(), e.value_raw)],
                               row.feed, row.id, self.now)
            else:
                inbox_id = r.arrival_seq // POSITIONS_PER_PAYLOAD
                position = f"inbox:{inbox_id} item {r.arrival_seq % POSITIONS_PER_PAYLOAD}"
                record_rejects(self.uow, [Reject(position, r.text())], row.feed, inbox_id,
                               self.now)

    def _record(self, pid: int, changes: list[Change], notify: bool) -> None:
        if changes:
            self.changes.setdefault(pid, []).extend(Staged.of(c, notify) for c in changes)

    def _merge(self, old: int, survivor: int, why: str | None = None) -> None:
        """ADT^A40 (or a FHIR Patient naming a bare-id patient, `why`): rare, so done row by
        row: save both, move the rows, reload the survivor and re-evaluate its current
        episode."""
        if old == survivor:
            return
        out = Outcome()
        self._save([a for pid, a in self.aggs.items() if pid in (old, survivor)], out)
        self.pending_out.append(out)
        for pid in (old, survivor):
            self.aggs.pop(pid, None)
        merge(self.uow, old, survivor, self.now, why)
        self.s.flush()
        # The survivor now holds the old identifier's results: the batch's later rows of
        # either may touch them, so their stored versions are loaded too.
        self.keys[survivor] = self.keys.get(survivor, set()) | self.keys.pop(old, set())
        agg = self._agg(survivor)
        self._record(survivor, agg.ledger.reevaluate(None, agg.new_id), True)

    # -- saving
    def save(self, out: Outcome) -> None:
        self._save(list(self.aggs.values()), out)
        for earlier in self.pending_out:
            out.deliveries += earlier.deliveries
            out.alerts += earlier.alerts

    def _save(self, aggs: list[Aggregate], out: Outcome) -> None:
        for agg in aggs:  # the stay ends the engine saw, saved with the moves
            if agg.pid in self.moves:
                self.moves[agg.pid].stay_ended = agg.ledger.stay_ended_at
        self._save_moves()  # first: notifications are routed by the patient's ward
        save_results(self.s, aggs)
        written = save_alerts(self.s, [(agg, self.changes.pop(agg.pid, [])) for agg in aggs],
                              self.now, self.p.tz, self.actor)
        follow = {agg.pid: _to_follow(agg, written.get(agg.pid, [])) for agg in aggs}
        # Held until the follow-up is done: the session keeps clean objects only while
        # something else refers to them (its identity map is weak).
        held = self._preload(follow)
        for agg in aggs:
            out.alerts += [w.alert_id for w in written.get(agg.pid, [])]
            cleared = list(self.clear_at.pop(agg.pid, {}).values())
            out.deliveries += _follow_up(self.uow, agg, follow[agg.pid], cleared, self.now)
        del held

    def _preload(self, follow: dict[int, dict[int, str]]) -> list[object]:
        """The alerts the lifecycle follows up or clears, their patients and wards, in a
        statement each for the batch: the follow-up then finds them in the session by
        primary key instead of one SELECT per alert, patient and ward."""
        ids = {a for f in follow.values() for a in f} | {
            int(r.alert_id) for cleared in self.clear_at.values() for r, _ in cleared.values()
            if not r.alert_id.startswith("new:")}
        if not ids:
            return []
        fresh = {"populate_existing": True}  # after save_alerts' Core statements
        alerts = list(self.s.scalars(select(Alert).where(among(self.s, Alert.id, sorted(ids)))
                                     .execution_options(**fresh)))
        patients = list(self.s.scalars(select(Patient).where(among(self.s, Patient.id,
            sorted({a.patient_id for a in alerts}))).execution_options(**fresh)))
        wards = sorted({p.ward_id for p in patients if p.ward_id is not None})
        return [*alerts, *patients, *(self.s.scalars(select(Ward).where(
            among(self.s, Ward.id, wards))) if wards else [])]

    def _save_moves(self) -> None:
        moved = []
        for pid, m in self.moves.items():
            info = self.patients[pid]
            if m.values() != tuple(info[f] for f in _Move.FIELDS):
                now = dict(zip(_Move.FIELDS, m.values(), strict=True))
                moved.append({"pid": pid, **now, "updated_at": self.now})
                info.update(now)
        if moved:  # one executemany for the batch
            self.s.execute(update(PATIENTS).where(PATIENTS.c.id == bindparam("pid")).values(
                {f: bindparam(f) for f in (*_Move.FIELDS, "updated_at")}), moved)


def _to_follow(agg: Aggregate, written: list[Written]) -> dict[int, str]:
    """The alerts of a patient whose lifecycle the batch's changes concern, and how (its
    last change): raised, withdrawn, or updated while acknowledged (a possible re-alarm)."""
    last: dict[int, str] = {}
    for w in written:
        last.setdefault(w.alert_id, w.kind)
        if w.kind in ("withdrawn", "resolved"):  # closed: nothing after it counts
            last[w.alert_id] = w.kind
    return {alert_id: kind for alert_id, kind in last.items()
            if not (kind == "updated" and (row := agg.alert_rows.get(str(alert_id))) is not None
                    and row["lifecycle"] != lc.ACKNOWLEDGED)}


def _follow_up(uow: UnitOfWork, agg: Aggregate, follow: dict[int, str],
               cleared: list[tuple[AlertRecord, float]], now: datetime) -> list[int]:
    """Lifecycle and notifications: a raised alert pages, a withdrawn one stops paging, an
    acknowledged one that got worse re-alarms; band alerts clear at a normal sodium."""
    deliveries: list[int] = []
    for alert_id, kind in follow.items():
        alert = uow.session.get(Alert, alert_id)
        assert alert is not None
        deliveries += after_engine_change(uow, alert, kind, now)
    for record, value in cleared:
        # As one row at a time: an acknowledged alert resolved when its condition went
        # (the batch already raised anew for later findings), an unacknowledged one is
        # cleared and still waits for its acknowledgement.
        stored = agg.alert_rows.get(record.alert_id)
        if stored is not None and stored["lifecycle"] not in CLEARABLE:
            continue  # cleared before this batch (or shelved): clear_gone finds nothing
        if record.state in (ACTIVE, RESOLVED):
            clear_gone(uow, agg.pid, value, agg.ledger.policy, now, only=int(record.alert_id))
    return deliveries


def _ward_ids(s: Session, codes: set[str], now: datetime) -> dict[str, int]:
    """Ward ids by code; an unknown ward is created with default settings."""
    if not codes:
        return {}

    def known() -> dict[str, int]:
        return {c: i for i, c in s.execute(select(Ward.id, Ward.code)
                                           .where(among(s, Ward.code, sorted(codes))))}

    found = known()
    missing = sorted(codes - set(found))
    if missing:
        insert_ignore(s, Ward.__table__, [  # type: ignore[arg-type]
            {"code": code, "name": code, "created_at": now} for code in missing], ["code"])
    return known() if missing else found

