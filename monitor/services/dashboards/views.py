"""Read models for the dashboard: the alert board, the ward census, the patient page.
Every query is scoped to the principal's wards."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from monitor.alerts import lifecycle as lc
from monitor.alerts.lifecycle import OPEN
from monitor.engine.limits import WINDOWS_HOURS
from monitor.engine.messages import span_words
from monitor.engine.model import Analyte
from monitor.engine.policy import Policy
from monitor.services.access.scope import Principal, scoped_patients, visible_patient
from monitor.storage.repos.ledgers import Scope, diagnosis_of
from monitor.storage.repos.ledgers import load as load_ledgers
from monitor.storage.repos.treatment import medications_since
from monitor.storage.repos.ward_policy import ward_policies
from monitor.storage.tables import (
    Alert,
    AlertEvent,
    AlertEvidence,
    Delivery,
    EpisodeMark,
    Patient,
    Result,
    RiskFactor,
    Ward,
)
from monitor.storage.uow import UnitOfWork

SEVERITY_ORDER = case((Alert.severity == "critical", 0), else_=1)
# Open alerts that page: an alert from backfill, a test message or a sample already stale
# when it arrived (notify false) is history, shown on the patient page, never on the board.
ON_THE_BOARD = (Alert.state == "active", Alert.lifecycle.in_(OPEN), Alert.notify.is_(True))


WAITING = (lc.UNACKNOWLEDGED, lc.CLEARED_UNACKNOWLEDGED)  # someone has to act


@dataclass
class BoardCard:
    """One patient on the board with their open alerts, worst first."""

    patient: Patient
    ward: str | None
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def waiting(self) -> bool:
        return any(r["alert"].lifecycle in WAITING for r in self.rows)

    def urgency(self) -> tuple[int, int, float]:
        """Unacknowledged criticals first, then unacknowledged warnings, then the handled;
        newest first within each."""
        first = self.rows[0]["alert"]
        newest = max(r["alert"].created_at for r in self.rows)
        return (0 if self.waiting else 1, 0 if first.severity == "critical" else 1,
                -newest.timestamp())


def _row_urgency(row: dict[str, Any]) -> tuple[int, int, float]:
    a = row["alert"]
    return (0 if a.lifecycle in WAITING else 1, 0 if a.severity == "critical" else 1,
            -a.created_at.timestamp())


def board(uow: UnitOfWork, p: Principal, now: datetime, limit: int = 500
          ) -> list[BoardCard]:
    """Active alerts of my wards that page (ON_THE_BOARD), one card per patient: the
    patients with an unacknowledged critical first. Each row says who handled the alert:
    acknowledged by whom and when, shelved until when by whom and why, escalated to whom."""
    q = (select(Alert, Patient, Ward.code, Result.collected_at)
         .join(Patient, Patient.id == Alert.patient_id)
         .outerjoin(Ward, Ward.id == Patient.ward_id)
         .outerjoin(Result, Result.id == Alert.triggering_result_id)
         .where(*ON_THE_BOARD)
         .order_by(SEVERITY_ORDER, Alert.created_at.desc()).limit(limit))
    cards: dict[int, BoardCard] = {}
    rows: dict[int, dict[str, Any]] = {}
    for a, patient, ward, sampled_at in uow.session.execute(scoped_patients(q, p)):
        card = cards.setdefault(patient.id, BoardCard(patient, ward))
        # The age that matters is the sample's: an alert raised a minute ago may rest on a
        # sample of yesterday. The alert's own age is secondary.
        row = {"alert": a, "patient": patient, "ward": ward, "sampled_at": sampled_at,
               "sample_age_min": None if sampled_at is None else
               max(int((now - sampled_at).total_seconds() // 60), 0),
               "age_min": int((now - a.created_at).total_seconds() // 60),
               "shelved_by": None, "shelve_reason": None, "escalated_to": [],
               "escalated_at": None}
        card.rows.append(row)
        rows[a.id] = row
    _handling(uow.session, rows)
    for card in cards.values():
        card.rows.sort(key=_row_urgency)
    return sorted(cards.values(), key=BoardCard.urgency)


def _handling(s: Session, rows: dict[int, dict[str, Any]]) -> None:
    """Who shelved each shelved alert and why (its latest "shelved" event), and whom the
    latest escalation went to (the deliveries of the last escalation step)."""
    shelved = [i for i, r in rows.items() if r["alert"].lifecycle == lc.SHELVED]
    if shelved:
        for alert_id, actor, reason in s.execute(
                select(AlertEvent.alert_id, AlertEvent.actor, AlertEvent.reason)
                .where(AlertEvent.alert_id.in_(shelved), AlertEvent.action == "shelved")
                .order_by(AlertEvent.id)):
            rows[alert_id].update(shelved_by=actor, shelve_reason=reason)
    escalated = [i for i, r in rows.items() if r["alert"].escalation_level > 0]
    if escalated:
        for paged, recipient, at in s.execute(
                select(Delivery.alert_id, Delivery.recipient, Delivery.created_at)
                .where(Delivery.alert_id.in_(escalated),
                       Delivery.event.in_(("escalated", "repeated")))
                .order_by(Delivery.created_at)):
            row = rows[int(paged or 0)]
            if row["escalated_at"] != at:  # a later step: its recipients replace the earlier
                row.update(escalated_to=[], escalated_at=at)
            if recipient not in row["escalated_to"]:
                row["escalated_to"].append(recipient)


@dataclass
class CensusRow:
    patient: Patient
    latest: float | None = None
    latest_at: datetime | None = None
    # From the engine (engine.standing), as the rules read the patient: never a second
    # computation of a tier or a rise here.
    change_24h: float | None = None  # signed: latest minus the first value of its 24 h
    rise_24h: float | None = None  # from the 24 h low, as OVERCORRECTION_24H measures it
    risk: list[str] = field(default_factory=list)  # the rules' risk factors: any is high
    sparkline: list[tuple[datetime, float]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    overdue: bool = False
    spark: str = ""  # the sparkline, rendered by the web layer
    flagged: tuple[datetime, float, str] | None = None  # a newer sample the lab flagged

    def urgency(self) -> tuple[int, str, str, str]:
        """Unacknowledged critical first, then unacknowledged warning, then alerts someone
        has handled (acknowledged, shelved, cleared), then none; ties by room and bed."""
        waiting = [a for a in self.alerts if a.lifecycle == lc.UNACKNOWLEDGED]
        rank = (0 if any(a.severity == "critical" for a in waiting) else 1 if waiting
                else 2 if self.alerts else 3)
        return (rank, self.patient.room or "", self.patient.bed or "", self.patient.identifier)


@dataclass
class Census:
    rows: list[CensusRow]
    policy: Policy  # the ward's policy: the one its patients are evaluated under


def census(uow: UnitOfWork, p: Principal, ward_code: str, default: Policy,
           now: datetime) -> Census | None:
    """One row per patient of a ward (None when the ward is not visible), under the ward's
    policy (`default` where it has none), most urgent first (CensusRow.urgency)."""
    s = uow.session
    ward = s.scalar(select(Ward).where(Ward.code == ward_code))
    if ward is None or (p.wards is not None and ward.id not in p.wards):
        return None
    policy = ward_policies(s, [ward.id], default)[ward.id]
    patients = list(s.scalars(select(Patient).where(
        Patient.ward_id == ward.id, Patient.discharged_at.is_(None),
        Patient.merged_into_id.is_(None)).order_by(Patient.room, Patient.bed, Patient.identifier)))
    ids = [x.id for x in patients]
    rows = {x.id: CensusRow(x) for x in patients}
    since = now - timedelta(days=7)
    # Columns, not ORM objects: a census reads thousands of values and needs three fields.
    for pid, at, value, flag in s.execute(select(
            Result.patient_id, Result.collected_at, Result.value_mmol_l, Result.flag).where(
            Result.patient_id.in_(ids), Result.analyte == "sodium", Result.is_current.is_(True),
            Result.removed.is_(False), Result.collected_at >= since)
            .order_by(Result.patient_id, Result.collected_at)):
        if value is None:
            continue
        # A sample the lab flagged (contaminated, haemolysed) counts for no rule: the row's
        # latest is the latest counted, and a newer flagged one is named beside it.
        if flag is None:
            rows[pid].sparkline.append((at, value))
            rows[pid].flagged = None
        else:
            rows[pid].flagged = (at, value, flag)
    for a in s.scalars(select(Alert).where(Alert.patient_id.in_(ids), Alert.state == "active",
                                           Alert.lifecycle.in_(OPEN))
                       .order_by(SEVERITY_ORDER, Alert.created_at.desc())):
        rows[a.patient_id].alerts.append(a)
    # The patients' ledgers as the evaluation loads them (the current episode, counted
    # values, diagnoses, acute marks): the tier and the rises are the engine's answer.
    ledgers = load_ledgers(s, {pid: Scope(None) for pid in ids}, dict.fromkeys(ids, policy))
    for row in rows.values():
        if row.sparkline:
            row.latest_at, row.latest = row.sparkline[-1]
        standing = ledgers[row.patient.id].ledger.standing()
        row.change_24h, row.rise_24h = standing.change_24h_mmol_l, standing.rise_24h_mmol_l
        row.risk = list(standing.risk_factors)
        row.overdue = any(a.rule == "MEASUREMENT_OVERDUE" for a in row.alerts)
    return Census(sorted(rows.values(), key=CensusRow.urgency), policy)


# The patient page and `GET /api/v1/patients/{id}/results` draw this many days of results
# before the patient's latest result, so their cost stays bounded over a long stay; older
# results on request (`?days=N` or `?from=YYYY-MM-DD`).
PATIENT_WINDOW_DAYS = 14


def corridor_lead_in(policy: Policy) -> timedelta:
    """How far before the window the corridor at its left edge reads: the 48 h window's
    lowest value, and the potassium look-back that sets the risk tier."""
    return timedelta(hours=max(*WINDOWS_HOURS, policy.lab_risk.potassium_lookback_hours))


@dataclass(frozen=True)
class Window:
    """The results shown: collected at or after `since`."""

    since: datetime
    days: int | None  # None when asked from a date
    latest: datetime | None  # the patient's latest and earliest result, any analyte
    earliest: datetime | None

    @property
    def has_older(self) -> bool:
        return self.earliest is not None and self.earliest < self.since


def result_window(uow: UnitOfWork, patient_id: int, now: datetime, days: int | None = None,
                  start: date | None = None) -> Window:
    """The window before the patient's latest result (or `now` without results): `days`
    long (default PATIENT_WINDOW_DAYS), or from midnight UTC of `start`."""
    # min/max with patient and analyte fixed: one probe of ix_results_patient_analyte_collected
    # each, whatever the length of the stay.
    probes = [select(agg(Result.collected_at)).where(
        Result.patient_id == patient_id, Result.analyte == analyte).scalar_subquery()
        for agg in (func.min, func.max) for analyte in Analyte]
    row = uow.session.execute(select(*probes)).one()
    n = len(Analyte)
    firsts = [t for t in row[:n] if t is not None]
    lasts = [t for t in row[n:] if t is not None]
    latest = max(lasts) if lasts else None
    if start is not None:
        since, days = datetime.combine(start, time(), UTC), None
    else:
        days = days or PATIENT_WINDOW_DAYS
        since = (latest or now) - timedelta(days=days)
    return Window(since, days, latest, min(firsts) if firsts else None)


def results_since(uow: UnitOfWork, patient_id: int, since: datetime) -> list[Result]:
    """Every version of the patient's results collected at or after `since`, oldest first."""
    # The analytes listed, so that `since` bounds the scan of
    # ix_results_patient_analyte_collected (patient, analyte, collected_at) for each.
    return list(uow.session.scalars(select(Result).where(
        Result.patient_id == patient_id, Result.analyte.in_(list(Analyte)),
        Result.collected_at >= since).order_by(Result.collected_at, Result.arrival_seq)))


def patient_detail(uow: UnitOfWork, p: Principal, patient_id: int, default: Policy,
                   now: datetime, days: int | None = None, start: date | None = None
                   ) -> dict[str, Any] | None:
    """The patient page's rows within its `window` (see result_window): results (and
    `lead_in`, the current results of the corridor_lead_in before it, which the corridor at
    the window's left edge reads but the page does not draw), the alerts
    open or changed in it, their events in it, the results that hold the active ones, the
    acute marks, the orders and administrations in the window (for the chart), and the
    policy in force (the ward's; `default` where it has none)."""
    s = uow.session
    patient = visible_patient(uow, p, patient_id)
    if patient is None:
        return None
    window = result_window(uow, patient_id, now, days, start)
    since = window.since
    policy = ward_policies(s, [patient.ward_id], default)[patient.ward_id]
    rows = results_since(uow, patient_id, since - corridor_lead_in(policy))
    results = [r for r in rows if r.collected_at >= since]
    lead_in = [r for r in rows if r.collected_at < since and r.is_current and not r.removed]
    alerts = list(s.scalars(select(Alert).where(
        Alert.patient_id == patient_id,
        or_(Alert.state == "active", Alert.triggered_at >= since, Alert.updated_at >= since))
        .order_by(Alert.created_at.desc())))
    events: dict[int, list[AlertEvent]] = {a.id: [] for a in alerts}
    for e in s.scalars(select(AlertEvent).where(
            AlertEvent.alert_id.in_(list(events)), AlertEvent.at >= since)
            .order_by(AlertEvent.id)):
        events[e.alert_id].append(e)
    risks = list(s.scalars(select(RiskFactor).where(RiskFactor.patient_id == patient_id)
                           .order_by(RiskFactor.recorded_at)))
    marks = list(s.scalars(select(EpisodeMark).where(
        EpisodeMark.patient_id == patient_id, EpisodeMark.acute.is_(True))
        .order_by(EpisodeMark.onset_at)))
    ward = s.get(Ward, patient.ward_id) if patient.ward_id else None
    return {"patient": patient, "ward": ward, "results": results, "lead_in": lead_in,
            "alerts": alerts, "events": events, "risks": risks, "window": window,
            "spans": {r.id: span_words(diagnosis_of(r), policy) for r in risks},
            "triggering": _triggering(s, alerts, since), "marks": marks, "policy": policy,
            "medications": medications_since(s, patient_id, since)}


def patient_policy(uow: UnitOfWork, p: Principal, patient_id: int, default: Policy
                   ) -> Policy | None:
    """The policy in force for a patient `p` may see (their ward's); None: not visible."""
    patient = visible_patient(uow, p, patient_id)
    if patient is None:
        return None
    return ward_policies(uow.session, [patient.ward_id], default)[patient.ward_id]


@dataclass(frozen=True)
class EventRun:
    """One line of an alert's history: an event, or consecutive "updated" events told as
    one ("updated 5 times, last at ..."), which a long rise otherwise repeats down the page."""

    events: list[AlertEvent]

    @property
    def last(self) -> AlertEvent:
        return self.events[-1]

    @property
    def repeated(self) -> bool:
        return len(self.events) > 1


def event_runs(events: list[AlertEvent]) -> list[EventRun]:
    """`events` in order, each run of consecutive plain updates (no note of their own,
    such as a re-lowering) folded into one."""
    runs: list[EventRun] = []
    for e in events:
        plain = e.action == "updated" and not e.reason
        if plain and runs and runs[-1].last.action == "updated" and not runs[-1].last.reason:
            runs[-1].events.append(e)
        else:
            runs.append(EventRun([e]))
    return runs


def _triggering(s: Session, alerts: list[Alert], since: datetime) -> set[str]:
    """The result keys (without the feed) within the window that hold the active alerts."""
    active = [a.id for a in alerts if a.state == "active"]
    if not active:
        return set()
    return {k.partition("|")[2] for k in s.scalars(select(AlertEvidence.result_key).where(
        AlertEvidence.alert_id.in_(active), AlertEvidence.collected_at >= since))}


def ward_codes(uow: UnitOfWork, p: Principal) -> list[str]:
    q = select(Ward.code).order_by(Ward.code)
    if p.wards is not None:
        q = q.where(Ward.id.in_(p.wards))
    return list(uow.session.scalars(q))


def count_unacknowledged(uow: UnitOfWork, p: Principal) -> int:
    """The board's alerts someone has to act on (WAITING): the count in the tab title."""
    q = (select(func.count()).select_from(Alert).join(Patient, Patient.id == Alert.patient_id)
         .where(*ON_THE_BOARD, Alert.lifecycle.in_(WAITING)))
    return int(uow.session.scalar(scoped_patients(q, p)) or 0)

