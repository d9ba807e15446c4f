"""The patient aggregate in storage: load a batch's patients as `PatientLedger`s, save what
the engine changed.

Everything is read and written set-based, a statement per table for the whole batch,
whatever the number of patients: the cost per result does not depend on how many results a
patient already has (results are loaded within the look-back; an open alert's evidence
within the same window, the rest summarised: `Settled`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from monitor.engine.ledger import PatientLedger
from monitor.engine.messages import message
from monitor.engine.model import Analyte, Diagnosis, Finding, Method, ResultStatus, RiskSource
from monitor.engine.policy import Policy
from monitor.engine.reconcile import ACTIVE, WITHDRAWN, AlertRecord, Change, Settled, badness
from monitor.engine.rules import ALL_RULES, OVERCORRECTION_24H, OVERCORRECTION_48H
from monitor.engine.stays import STANDING_RULES
from monitor.engine.versions import Version
from monitor.ingest.events import ResultEvent
from monitor.storage.base import UTCDateTime
from monitor.storage.repos.common import among, insert_rows, keyed
from monitor.storage.repos.treatment import ruled_medications, severe_symptoms
from monitor.storage.tables import Alert, AlertEvent, AlertEvidence, EpisodeMark, Result, RiskFactor

SYSTEM = "system"
# Core tables for the writes: set-based statements without the ORM's unit of work.
RESULTS = cast(Table, Result.__table__)
ALERTS = cast(Table, Alert.__table__)
EVENTS = cast(Table, AlertEvent.__table__)
EVIDENCE = cast(Table, AlertEvidence.__table__)
# Look-back loaded before the earliest re-evaluated result: the 48 h window, the 72 h
# potassium look-back and, for practical purposes, the start of the episode. A diagnosis
# change re-evaluates the results within CONTEXT of the latest one (the current episode).
CONTEXT = timedelta(days=7)
_RULED = (Analyte.SODIUM.value, Analyte.POTASSIUM.value, Analyte.GLUCOSE.value,
          Analyte.URINE_OUTPUT.value, Analyte.URINE_OSMOLALITY.value)
# (id, cut-off time) rows joined against: a patient's or an alert's horizon.
_CUT_COLUMNS = (("pid", BigInteger()), ("cut", UTCDateTime()))


def measurement_key(feed: str, result_key: str) -> str:
    """Result identity is unique per feed."""
    return f"{feed}|{result_key}"


@dataclass(frozen=True, slots=True)
class Scope:
    """What a batch touches of one patient: re-evaluation starts at `since` (None: the
    current episode), and every version of the results in `keys` is loaded."""

    since: datetime | None
    keys: frozenset[tuple[str, str]] = frozenset()  # (feed, result key)


@dataclass(slots=True)
class StoredVersion:
    id: int | None  # None until saved
    arrival_seq: int
    content: tuple[Any, ...]  # what makes two adjacent versions the same message


@dataclass
class Aggregate:
    """One patient's ledger as loaded, and what saving it needs to know."""

    pid: int
    ledger: PatientLedger
    versions: dict[str, list[StoredVersion]] = field(default_factory=dict)
    new_rows: list[dict[str, Any]] = field(default_factory=list)
    current_ids: dict[str, int] = field(default_factory=dict)  # key -> current row id
    flags: dict[int, tuple[bool, bool]] = field(default_factory=dict)  # id -> current, removed
    alert_rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # as loaded
    loaded_evidence: dict[str, dict[str, Finding]] = field(default_factory=dict)
    raised: int = 0

    def new_id(self, rule: str) -> str:
        self.raised += 1
        return f"new:{rule}:{self.raised}"


def content(ev: ResultEvent) -> tuple[Any, ...]:
    return (ev.status.value, ev.value_mmol_l, ev.collected_at, ev.value_raw[:100],
            ev.unit_raw[:50], ev.flag, ev.started_at)


def _row_content(r: Any) -> tuple[Any, ...]:
    return (r.status, r.value_mmol_l, r.collected_at, r.value_raw, r.unit_raw, r.flag,
            r.started_at)


def _version(r: Any) -> Version:
    return Version(r.arrival_seq, ResultStatus(r.status), r.value_mmol_l, r.collected_at,
                   r.flag, r.started_at)


def finding_to_json(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule, "severity": f.severity, "result_key": f.result_key,
        "collected_at": f.collected_at.isoformat(), "value_mmol_l": f.value_mmol_l,
        "rise_mmol_l": f.rise_mmol_l, "window_hours": f.window_hours,
        "limit_mmol_l": f.limit_mmol_l, "risk_tier": f.risk_tier,
        "risk_factors": list(f.risk_factors), "mixed_methods": f.mixed_methods,
        "extra": f.extra,
    }


def finding_from_json(d: dict[str, Any]) -> Finding:
    return Finding(
        rule=d["rule"], severity=d["severity"], result_key=d["result_key"],
        collected_at=datetime.fromisoformat(d["collected_at"]),
        value_mmol_l=d["value_mmol_l"], rise_mmol_l=d["rise_mmol_l"],
        window_hours=d["window_hours"], limit_mmol_l=d["limit_mmol_l"],
        risk_tier=d["risk_tier"], risk_factors=tuple(d["risk_factors"]),
        mixed_methods=d["mixed_methods"], extra=dict(d.get("extra") or {}),
    )


def diagnoses(s: Session, pids: Iterable[int]) -> dict[int, list[Diagnosis]]:
    """Each source's current statement of each diagnosis (code or factor name), void ones
    included (they say why an alert was withdrawn), per patient."""
    found: dict[int, list[Diagnosis]] = {}
    rows = s.execute(select(
            RiskFactor.patient_id, RiskFactor.icd10_code, RiskFactor.factor,
            RiskFactor.source, RiskFactor.active, RiskFactor.onset_at, RiskFactor.asserted_at,
            RiskFactor.abated_at, RiskFactor.encounter, RiskFactor.voided).where(
            among(s, RiskFactor.patient_id, list(pids))).order_by(RiskFactor.id)).all()
    # Void rows first: where a clinician entered one code twice and removed one entry, the
    # entry still standing is the statement that holds.
    for r in sorted(rows, key=lambda r: r.voided is None):
        found.setdefault(r.patient_id, []).append(diagnosis_of(r))
    return found


def diagnosis_of(r: Any) -> Diagnosis:
    """A risk_factors row (or a row of its columns) as the engine reads it."""
    source = RiskSource(r.source) if r.source in _SOURCES else RiskSource.CLINICIAN
    return Diagnosis(r.icd10_code or r.factor, source, bool(r.active), r.onset_at,
                     r.asserted_at, r.abated_at, bool(r.encounter), r.voided)


_SOURCES = frozenset(s.value for s in RiskSource)


def acute_marks(s: Session, pids: Iterable[int]) -> dict[int, list[datetime]]:
    """The documented onsets of each patient's acute marks."""
    found: dict[int, list[datetime]] = {}
    for pid, at in s.execute(select(EpisodeMark.patient_id, EpisodeMark.onset_at).where(
            among(s, EpisodeMark.patient_id, list(pids)), EpisodeMark.acute.is_(True))):
        found.setdefault(pid, []).append(at)
    return found


def _reach(p: Policy) -> timedelta:
    return timedelta(hours=max(p.artefacts.confirm_hours, p.glucose.pair_minutes / 60))


def load(s: Session, scopes: dict[int, Scope], policies: dict[int, Policy]
         ) -> dict[int, Aggregate]:
    """The ledgers of the scoped patients, each holding what its re-evaluation needs."""
    pids = sorted(scopes)
    if not pids:
        return {}
    aggs = {pid: Aggregate(pid, PatientLedger(policies[pid])) for pid in pids}
    # Every stored version of the results the batch touches, wherever they were collected.
    touched = {(pid, feed, key) for pid, sc in scopes.items() for feed, key in sc.keys}
    versions: dict[tuple[int, str], list[Any]] = {}
    if touched:
        # By key alone (ix_results_result_key; the feed and patient are checked here),
        # whatever the patient's history: PostgreSQL does not drive a long IN list on the
        # second column of the (feed, key, sequence) index.
        for r in s.execute(select(RESULTS).where(
                among(s, RESULTS.c.result_key, sorted({k for _, _, k in touched})))
                .order_by(RESULTS.c.arrival_seq)):
            if (r.patient_id, r.source_feed, r.result_key) in touched:
                versions.setdefault((r.patient_id, measurement_key(
                    r.source_feed, r.result_key)), []).append(r)
    latest = dict(s.execute(select(Result.patient_id, func.max(Result.collected_at)).where(
        among(s, Result.patient_id, [p for p in pids if scopes[p].since is None]))
        .group_by(Result.patient_id)).all()) if any(
        sc.since is None for sc in scopes.values()) else {}
    touched_times: dict[int, list[datetime]] = {}
    for (pid, _), rows in versions.items():
        touched_times.setdefault(pid, []).extend(r.collected_at for r in rows)
    horizons: dict[int, datetime] = {}
    for pid, sc in scopes.items():
        times = touched_times.get(pid, [])
        if sc.since is None:
            if pid in latest:
                times.append(latest[pid] - CONTEXT)
        else:
            times.append(sc.since)
        if times:
            # A new sample can change how the ones just before it count (a spike it
            # reverses, a sodium its glucose corrects): their findings are re-evaluated too.
            horizons[pid] = min(times) - _reach(policies[pid])
    current: list[Any] = []
    if horizons:
        since = keyed(s, "since", _CUT_COLUMNS,
                      [(pid, at - CONTEXT) for pid, at in horizons.items()])
        current = list(s.execute(select(
            Result.id, Result.patient_id, Result.source_feed, Result.result_key,
            Result.arrival_seq, Result.analyte, Result.method, Result.status,
            Result.value_mmol_l, Result.collected_at, Result.test, Result.key_inferred,
            Result.flag, Result.started_at).join(since, and_(
                Result.patient_id == since.c.pid, Result.collected_at >= since.c.cut)).where(
            Result.is_current.is_(True), Result.removed.is_(False),
            among(s, Result.analyte, _RULED))))
    stated, marks = diagnoses(s, pids), acute_marks(s, pids)
    meds, symptoms = ruled_medications(s, pids), severe_symptoms(s, pids)
    for pid, agg in aggs.items():
        agg.ledger.horizon = horizons.get(pid)
        agg.ledger.diagnoses = {(d.code, d.source.value): d for d in stated.get(pid, [])}
        agg.ledger.acute_marks = sorted(set(marks.get(pid, [])))
        agg.ledger.medications = meds.get(pid, {})
        agg.ledger.severe_symptoms = symptoms.get(pid, [])
    for (pid, key), rows in versions.items():
        agg = aggs[pid]
        agg.versions[key] = [StoredVersion(r.id, r.arrival_seq, _row_content(r)) for r in rows]
        agg.flags.update((r.id, (r.is_current, r.removed)) for r in rows)
        agg.current_ids.update((key, r.id) for r in rows if r.is_current)
        agg.ledger.restore(key, Analyte(rows[0].analyte), Method(rows[0].method),
                           [_version(r) for r in rows], any(r.test for r in rows),
                           any(r.key_inferred for r in rows))
    for r in current:
        key, agg = measurement_key(r.source_feed, r.result_key), aggs[r.patient_id]
        agg.current_ids[key] = r.id
        if key not in agg.versions and r.value_mmol_l is not None:
            agg.ledger.restore(key, Analyte(r.analyte), Method(r.method), [_version(r)], r.test,
                               r.key_inferred)
    _load_alerts(s, aggs)
    _sodium_before(s, aggs, {pid: at - CONTEXT for pid, at in horizons.items()})
    return aggs


def _sodium_before(s: Session, aggs: dict[int, Aggregate], cuts: dict[int, datetime]) -> None:
    """The last counted sodium before the loaded results of each patient with an open
    standing alert, in one statement (an indexed look-up each): a gap from it may end the
    alert's stay (engine.stays) however long ago it was collected."""
    cuts = {pid: at for pid, at in cuts.items() if any(
        a.state == ACTIVE and a.rule in STANDING_RULES for a in aggs[pid].ledger.alerts)}
    if not cuts:
        return
    # One correlated look-up per patient, newest first, stopping at the first counted one:
    # a max() over the patient's rows would read every result of a long stay.
    k = keyed(s, "cuts", _CUT_COLUMNS, list(cuts.items()))
    last = select(Result.collected_at).where(
        Result.patient_id == k.c.pid, Result.analyte == Analyte.SODIUM.value,
        Result.collected_at < k.c.cut, Result.is_current.is_(True),
        Result.removed.is_(False), Result.flag.is_(None), Result.value_mmol_l.is_not(None)
    ).order_by(Result.collected_at.desc()).limit(1).correlate(k).scalar_subquery()
    for pid, at in s.execute(select(k.c.pid, last)):
        if at is not None:
            aggs[pid].ledger.sodium_before = at


def _load_alerts(s: Session, aggs: dict[int, Aggregate]) -> None:
    rows = [r._asdict() for r in s.execute(select(
        Alert.id, Alert.patient_id, Alert.rule, Alert.state, Alert.lifecycle, Alert.severity,
        Alert.value_mmol_l, Alert.rise_mmol_l, Alert.acknowledged_severity,
        Alert.acknowledged_rise, Alert.shelved_until, Alert.notify, Alert.evidence_count,
        Alert.first_key, Alert.worst_key, Alert.latest_key, Alert.event).where(
        among(s, Alert.patient_id, list(aggs)), Alert.state == ACTIVE,
        among(s, Alert.rule, ALL_RULES)))]
    if not rows:
        return
    # The evidence within each patient's horizon, and the alert's summary findings.
    cut = {r["id"]: aggs[r["patient_id"]].ledger.horizon for r in rows}
    summary = {k for r in rows for k in (r["first_key"], r["worst_key"], r["latest_key"]) if k}
    near: Any = true() if any(c is None for c in cut.values()) else \
        AlertEvidence.collected_at >= min(c for c in cut.values() if c is not None)
    inside: dict[int, dict[str, Finding]] = {r["id"]: {} for r in rows}
    known: dict[tuple[int, str], Finding] = {}
    for alert_id, key, at, finding in s.execute(select(
            AlertEvidence.alert_id, AlertEvidence.result_key, AlertEvidence.collected_at,
            AlertEvidence.finding).where(
            among(s, AlertEvidence.alert_id, list(cut)),
            or_(near, among(s, AlertEvidence.result_key, sorted(summary))))):
        f = finding_from_json(finding)
        known[(alert_id, key)] = f
        c = cut[alert_id]
        if c is None or at >= c:
            inside[alert_id][key] = f
    # What the history already tells of an overcorrection alert (re-lowering notes), so a
    # later batch does not tell it again; few rows, and only for open overcorrections.
    noted: dict[int, dict[str, str]] = {}
    overcorrections = [r["id"] for r in rows if r["rule"] in (OVERCORRECTION_24H,
                                                              OVERCORRECTION_48H)]
    if overcorrections:
        for n, (alert_id, reason) in enumerate(s.execute(select(
                AlertEvent.alert_id, AlertEvent.reason).where(
                among(s, AlertEvent.alert_id, overcorrections), AlertEvent.action == "updated",
                AlertEvent.reason.is_not(None)))):
            noted.setdefault(alert_id, {})[f"stored:{n}"] = reason or ""
    beyond = {r["id"]: c for r in rows
              if r["evidence_count"] > len(inside[r["id"]]) and (c := cut[r["id"]]) is not None}
    best = _best_outside(s, beyond)
    for r in rows:
        agg = aggs[r["patient_id"]]
        mine = inside[r["id"]]
        record = AlertRecord(str(r["id"]), r["rule"], r["state"], dict(mine), event=r["event"],
                             notes=noted.get(r["id"], {}))
        if r["id"] in best:
            record.settled = _settled(r, r["evidence_count"] - len(mine), mine, known,
                                      best[r["id"]])
        agg.ledger.alerts.append(record)
        agg.alert_rows[record.alert_id] = r
        agg.loaded_evidence[record.alert_id] = dict(mine)


def _settled(r: dict[str, Any], outside: int, inside: dict[str, Finding],
             known: dict[tuple[int, str], Finding], best: tuple[Finding, Finding, Finding]
             ) -> Settled:
    """Summarise the evidence before the horizon: the alert's own summary findings where
    they lie there, else the best of what lies there."""
    picks: list[Finding] = []
    for column, fallback in zip(("first_key", "latest_key", "worst_key"), best, strict=True):
        key = r[column]
        f = known.get((r["id"], key)) if key else None
        picks.append(fallback if f is None or key in inside else f)
    first, latest, worst = picks
    return Settled(outside, first, worst, latest)


def _best_outside(s: Session, cuts: dict[int, datetime]
                  ) -> dict[int, tuple[Finding, Finding, Finding]]:
    """The first, latest and worst finding of each alert's evidence before its cut, for
    every alert at once: three correlated look-ups per alert in one statement, each an
    indexed LIMIT 1 (whatever the length of the stay), instead of a statement each."""
    if not cuts:
        return {}
    e = EVIDENCE.alias("e")
    k = keyed(s, "cuts", _CUT_COLUMNS, list(cuts.items()))

    def pick(*order: Any) -> Any:
        return select(e.c.finding).where(e.c.alert_id == k.c.pid, e.c.collected_at < k.c.cut
                                         ).order_by(*order).limit(1).correlate(k
                                                                               ).scalar_subquery()

    found = {}
    for alert_id, *picks in s.execute(select(
            k.c.pid, pick(e.c.collected_at, e.c.result_key),
            pick(e.c.collected_at.desc(), e.c.result_key.desc()),
            pick(e.c.rank.desc(), e.c.collected_at.desc()))):
        if all(p is not None for p in picks):
            first, latest, worst = (finding_from_json(p) for p in picks)
            found[alert_id] = (first, latest, worst)
    return found


def evidence_rank(f: Finding) -> float:
    """`badness` as one number, for ordering evidence in SQL (scores lie within +-1,000)."""
    critical, score, _ = badness(f)
    return (1e6 if critical else 0.0) + score


# ---- saving -------------------------------------------------------------------------------

def add_version(agg: Aggregate, ev: ResultEvent, feed: str, inbox_id: int | None,
                seq: int, received_at: datetime) -> bool:
    """Stage a version for insertion; the same version delivered again stages nothing (a
    redelivery by its arrival sequence, a resent message by equality with a neighbour)."""
    key = measurement_key(feed, ev.result_key)
    stored = agg.versions.setdefault(key, [])
    mine = content(ev)
    earlier = [v for v in stored if v.arrival_seq < seq]
    later = [v for v in stored if v.arrival_seq > seq]
    if any(v.arrival_seq == seq for v in stored):
        return False
    for near in (earlier[-1] if earlier else None, later[0] if later else None):
        if near is not None and near.content == mine:
            return False
    stored.append(StoredVersion(None, seq, mine))
    stored.sort(key=lambda v: v.arrival_seq)
    agg.new_rows.append({
        "patient_id": agg.pid, "source_feed": feed, "result_key": ev.result_key,
        "arrival_seq": seq, "inbox_id": inbox_id, "analyte": ev.analyte.value,
        "loinc_code": ev.code, "specimen": ev.specimen, "method": ev.method.value,
        "value_raw": ev.value_raw[:100], "unit_raw": ev.unit_raw[:50],
        "value_mmol_l": ev.value_mmol_l, "collected_at": ev.collected_at,
        "received_at": received_at, "status": ev.status.value, "test": ev.test,
        "key_inferred": ev.key_inferred, "is_current": False, "removed": False,
        "flag": ev.flag, "started_at": ev.started_at, "_key": key,
    })
    return True


def save_results(s: Session, aggs: Iterable[Aggregate]) -> None:
    """Insert the staged versions (one statement) and mark which version counts."""
    aggs = list(aggs)
    rows = [row for agg in aggs for row in agg.new_rows]
    if rows:
        # RETURNING with many rows: ids come back in the order given (SQLAlchemy 2).
        ids = insert_rows(s, RESULTS, [{k: v for k, v in row.items() if k != "_key"}
                                       for row in rows], RESULTS.c.id)
        by_pid = {a.pid: a for a in aggs}
        for row, new in zip(rows, ids, strict=True):
            agg = by_pid[row["patient_id"]]
            for v in agg.versions[row["_key"]]:
                if v.arrival_seq == row["arrival_seq"]:
                    v.id = new
            agg.flags[new] = (False, False)
    changes: list[dict[str, Any]] = []
    for agg in aggs:
        for key in {row["_key"] for row in agg.new_rows}:
            eff = agg.ledger.results[key].effective
            for v in agg.versions[key]:
                assert v.id is not None
                current = eff is not None and v.arrival_seq == eff.arrival_seq
                # A lab-flagged value is shown (as suspect), so not `removed`.
                flags = (current, current and eff is not None and not eff.present)
                if current:
                    agg.current_ids[key] = v.id
                if agg.flags.get(v.id) != flags:
                    agg.flags[v.id] = flags
                    changes.append({"rid": v.id, "c": flags[0], "r": flags[1]})
        agg.new_rows = []
    if changes:
        s.execute(update(RESULTS).where(RESULTS.c.id == bindparam("rid")).values(
            is_current=bindparam("c"), removed=bindparam("r")), changes)


@dataclass(frozen=True, slots=True)
class Staged:
    """A change of an alert as the engine made it, with what its event records of that
    moment (the alert itself may change again later in the batch)."""

    change: Change
    notify: bool
    details: dict[str, Any]

    @classmethod
    def of(cls, change: Change, notify: bool) -> Staged:
        latest = change.alert.latest
        return cls(change, notify, {"value_mmol_l": latest.value_mmol_l,
                                    "rise_mmol_l": latest.rise_mmol_l,
                                    "result_key": latest.result_key})


@dataclass(frozen=True, slots=True)
class Written:
    alert_id: int
    kind: str  # raised / updated / withdrawn / resolved
    notify: bool


def save_alerts(s: Session, batch: list[tuple[Aggregate, list[Staged]]],
                now: datetime, tz: tzinfo = UTC, actor: str = SYSTEM
                ) -> dict[int, list[Written]]:
    """Write the alerts the engine changed, for every patient of the batch at once: new
    alerts in one INSERT, summaries in one executemany, evidence rows (only those that
    changed) and one alert_event per change, in the order they happened, in one each.
    Withdrawals are by `actor` (a physician whose change took the evidence away); what
    the engine raises or updates is always by the system."""
    raised: list[tuple[Aggregate, AlertRecord, dict[str, Any]]] = []
    updated: list[dict[str, Any]] = []
    withdrawn: list[dict[str, Any]] = []
    resolved: list[dict[str, Any]] = []
    notify: dict[int, bool] = {}
    for agg, changes in batch:
        final: dict[int, AlertRecord] = {}  # by object: one write per alert, its last state
        # Resolved by the engine (its stay ended), as opposed to an acknowledged alert the
        # batch cleared, which the lifecycle resolves after the save.
        ended = {id(c.change.alert) for c in changes if c.change.kind == "resolved"}
        for staged in changes:
            change = staged.change
            final[id(change.alert)] = change.alert
            notify[id(change.alert)] = notify.get(id(change.alert), False) or staged.notify
        for obj, record in final.items():
            values = _summary(s, agg, record, agg.ledger.policy, now, tz)
            if record.alert_id.startswith("new:"):
                test = agg.ledger.is_test(record)
                closed = "resolved" if obj in ended else "withdrawn"
                raised.append((agg, record, {
                    "patient_id": agg.pid, "rule": record.rule, "event": record.event,
                    # Raised and closed within one batch: written as closed.
                    "lifecycle": "unacknowledged" if record.state == ACTIVE else closed,
                    "test": test, "notify": notify[obj] and not test, "created_at": now,
                    "resolved_at": now if closed == "resolved" else None, **values}))
            elif record.state == WITHDRAWN:
                withdrawn.append({"aid": int(record.alert_id), **values,
                                  "lifecycle": "withdrawn"})
            elif obj in ended:
                resolved.append({"aid": int(record.alert_id), **values,
                                 "lifecycle": "resolved", "resolved_at": now,
                                 "next_notification_at": None})
            else:
                # Neither state nor lifecycle: a nurse may acknowledge, shelve or resolve
                # while the batch runs (alert actions take no patient lock); the engine's
                # update never undoes that.
                del values["state"]
                updated.append({"aid": int(record.alert_id), **values})
    # Withdrawals and resolutions first: a new alert may open the event of one closed in
    # this batch (one active alert per patient, rule and event).
    for rows in (withdrawn, resolved):
        if rows:
            s.execute(update(ALERTS).where(ALERTS.c.id == bindparam("aid")).values(
                {k: bindparam(k) for k in rows[0] if k != "aid"}), rows)
    if raised:
        ids = insert_rows(s, ALERTS, [values for _, _, values in raised], ALERTS.c.id)
        for (agg, record, _), new in zip(raised, ids, strict=True):
            record.alert_id = str(new)
            agg.loaded_evidence[record.alert_id] = {}
    if updated:
        s.execute(update(ALERTS).where(ALERTS.c.id == bindparam("aid")).values(
            {k: bindparam(k) for k in updated[0] if k != "aid"}), updated)
    _save_evidence(s, [(agg, c.change.alert) for agg, changes in batch for c in changes])
    events: list[dict[str, Any]] = []
    written: dict[int, list[Written]] = {}
    for agg, changes in batch:
        seen: set[int] = set()
        for staged in changes:
            change = staged.change
            record, obj = change.alert, id(change.alert)
            kind = "raised" if obj not in seen and change.kind == "raised" else change.kind
            seen.add(obj)
            loaded = agg.alert_rows.get(record.alert_id)
            events.append({
                "alert_id": int(record.alert_id), "at": now, "action": kind,
                "actor": actor if kind == "withdrawn" else SYSTEM,
                "from_state": None if kind == "raised" else
                loaded["lifecycle"] if kind == "resolved" and loaded else "unacknowledged",
                "to_state": kind if kind in ("withdrawn", "resolved") else "unacknowledged",
                "reason": record.withdrawn_reason if kind in ("withdrawn", "resolved")
                else change.note,
                "details": staged.details})
            written.setdefault(agg.pid, []).append(
                Written(int(record.alert_id), kind, notify[obj]))
    if events:
        insert_rows(s, EVENTS, events)
    return written


def _summary(s: Session, agg: Aggregate, record: AlertRecord, policy: Policy,
             now: datetime, tz: tzinfo) -> dict[str, Any]:
    worst, latest, first = record.worst, record.latest, record.first
    current = agg.current_ids.get(latest.result_key)
    if current is None:
        feed, _, key = latest.result_key.partition("|")
        current = s.scalar(select(Result.id).where(
            Result.patient_id == agg.pid, Result.source_feed == feed,
            Result.result_key == key, Result.is_current.is_(True)))
    return {
        "severity": record.severity, "state": record.state,
        "triggered_at": record.triggered_at, "value_mmol_l": worst.value_mmol_l,
        "rise_mmol_l": worst.rise_mmol_l, "window_hours": worst.window_hours,
        "limit_mmol_l": worst.limit_mmol_l, "risk_tier": worst.risk_tier,
        "risk_factors": list(worst.risk_factors),
        "mixed_methods": any(f.mixed_methods for f in record.evidence.values()),
        "policy": policy.name,
        "message": message(worst, policy, agg.ledger.described_diagnoses(), tz),
        "withdrawn_reason": record.withdrawn_reason, "triggering_result_id": current,
        "evidence_count": record.count, "first_key": first.result_key,
        "worst_key": worst.result_key, "latest_key": latest.result_key, "updated_at": now,
    }


def _save_evidence(s: Session, records: list[tuple[Aggregate, AlertRecord]]) -> None:
    gone: list[tuple[int, str]] = []
    added: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    done: set[int] = set()
    for agg, record in records:
        if id(record) in done:
            continue
        done.add(id(record))
        alert_id = int(record.alert_id)
        before = agg.loaded_evidence.get(record.alert_id, {})
        after = record.evidence
        gone += [(alert_id, k) for k in before if k not in after]
        for k, f in after.items():
            row = {"eid": alert_id, "ekey": f.result_key, "collected_at": f.collected_at,
                   "finding": finding_to_json(f), "rank": evidence_rank(f)}
            if k not in before:
                added.append(row)
            elif before[k] != f:
                changed.append(row)
        agg.loaded_evidence[record.alert_id] = dict(after)
    if gone:
        s.execute(delete(EVIDENCE).where(
            tuple_(EVIDENCE.c.alert_id, EVIDENCE.c.result_key).in_(gone)))
    if added:
        insert_rows(s, EVIDENCE, [
            {"alert_id": r["eid"], "result_key": r["ekey"], "collected_at": r["collected_at"],
             "finding": r["finding"], "rank": r["rank"]} for r in added])
    if changed:
        s.execute(update(EVIDENCE).where(
            EVIDENCE.c.alert_id == bindparam("eid"), EVIDENCE.c.result_key == bindparam("ekey"))
            .values(collected_at=bindparam("collected_at"), finding=bindparam("finding"),
                    rank=bindparam("rank")), changed)
