"""The JSON API under /api/v1: the same services as the command line, scoped by role and
ward. Cookie-authenticated writes need the X-CSRF-Token header; bearer tokens do not."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from monitor.alerts.lifecycle import TransitionError
from monitor.notify.alert_shape import alert_json
from monitor.services.access.audit import audit, entries
from monitor.services.access.scope import require, scoped_patients, visible_alert, visible_patient
from monitor.services.alerting import actions
from monitor.services.dashboards.views import PATIENT_WINDOW_DAYS, result_window, results_since
from monitor.services.evaluation import clinician
from monitor.services.evaluation.treatment import record_body_weight
from monitor.services.intake.rejects import list_rejects, retry_reject
from monitor.storage.tables import (
    Alert,
    Feed,
    OnCallShift,
    Patient,
    RiskFactor,
    User,
    Ward,
)
from monitor.web.deps import MAX_ROW_ID, AlertId, PatientId, RejectId, RiskId, RuntimeDep
from monitor.web.security import Caller, CallerDep, check_csrf

router = APIRouter(prefix="/api/v1", tags=["dashboard API"])
Csrf = Annotated[str | None, Header(alias="X-CSRF-Token")]
# The window of a patient's results (the patient page and its JSON): PATIENT_WINDOW_DAYS
# before the latest result unless asked for more days or from a date.
WindowDays = Annotated[int | None, Query(ge=1, le=36500, description=(
    f"days before the latest result (default {PATIENT_WINDOW_DAYS})"))]
# How many rows a list route returns; more than its maximum is cut to it, as before.
Limit = Annotated[int, Query(ge=1, description="how many rows, newest first")]
WindowFrom = Annotated[date | None, Query(alias="from", description=(
    "every result collected from this day (UTC) on; overrides days"))]


def _now() -> datetime:
    return datetime.now(UTC)


def _patient_json(p: Patient, ward: str | None) -> dict[str, Any]:
    return {"id": p.id, "identifier": p.identifier, "authority": p.authority,
            "name": p.display_name, "birth_date": p.birth_date.isoformat() if p.birth_date
            else None, "sex": p.sex, "ward": ward, "room": p.room, "bed": p.bed,
            "discharged_at": p.discharged_at.isoformat() if p.discharged_at else None}


@router.get("/patients")
def patients(rt: RuntimeDep, c: CallerDep, ward: str | None = None) -> list[dict[str, Any]]:
    """Patients of the wards you may see."""
    require(c.who, "view")
    q = select(Patient, Ward.code).outerjoin(Ward, Ward.id == Patient.ward_id)
    if ward:
        q = q.where(Ward.code == ward)
    with rt.uow() as uow:
        found = [_patient_json(p, w) for p, w in uow.session.execute(
            scoped_patients(q, c.who).order_by(Patient.identifier))]
        audit(uow, c.who.username, "list-patients", _now(), "ward", ward, shown=len(found))
        uow.commit()
        return found


def _visible(rt: RuntimeDep, c: Caller, patient_id: int, what: str) -> Patient:
    require(c.who, "view")
    with rt.uow() as uow:
        p = visible_patient(uow, c.who, patient_id)
        if p is None:
            raise HTTPException(404, "no such patient")
        audit(uow, c.who.username, what, _now(), "patient", patient_id)
        uow.commit()
        return p


@router.get("/patients/{patient_id}")
def patient(rt: RuntimeDep, c: CallerDep, patient_id: PatientId) -> dict[str, Any]:
    p = _visible(rt, c, patient_id, "view-patient")
    with rt.uow() as uow:
        ward = uow.session.get(Ward, p.ward_id) if p.ward_id else None
        return _patient_json(p, ward.code if ward else None)


@router.get("/patients/{patient_id}/results")
def results(rt: RuntimeDep, c: CallerDep, patient_id: PatientId, days: WindowDays = None,
            from_: WindowFrom = None) -> list[dict[str, Any]]:
    """The patient's results of the last 14 days before the latest one (`days` for more,
    `from` for all since a date), oldest first."""
    _visible(rt, c, patient_id, "view-results")
    with rt.uow() as uow:
        since = result_window(uow, patient_id, _now(), days, from_).since
        return [{"id": r.id, "analyte": r.analyte, "value_mmol_l": r.value_mmol_l,
                 "value": r.value_raw, "unit": r.unit_raw, "method": r.method,
                 "status": r.status, "collected_at": r.collected_at.isoformat(),
                 "current": r.is_current, "removed": r.removed, "feed": r.source_feed}
                for r in results_since(uow, patient_id, since)]


@router.get("/alerts")
def alerts(rt: RuntimeDep, c: CallerDep, state: str = "active",
           patient_id: int | None = None) -> list[dict[str, Any]]:
    """Alerts of your wards, in the shared alert JSON shape."""
    require(c.who, "view")
    if patient_id is not None and not 1 <= patient_id <= MAX_ROW_ID:
        return []  # no such patient, so none of its alerts
    q = select(Alert, Patient).join(Patient, Patient.id == Alert.patient_id)
    if state != "all":
        q = q.where(Alert.state == state)
    if patient_id is not None:
        q = q.where(Alert.patient_id == patient_id)
    with rt.uow() as uow:
        found = [alert_json(a, p) for a, p in uow.session.execute(
            scoped_patients(q, c.who).order_by(Alert.created_at.desc()).limit(1000))]
        audit(uow, c.who.username, "list-alerts", _now(), "patient", patient_id,
              state=state, shown=len(found))
        uow.commit()
        return found


class Note(BaseModel):
    note: str | None = None


class Shelf(BaseModel):
    reason: str = Field(min_length=1)
    minutes: int = Field(gt=0, le=720)


def _alert_action(rt: RuntimeDep, c: Caller, alert_id: int, action: str, run: Any
                  ) -> dict[str, Any]:
    require(c.who, action)
    with rt.uow() as uow:
        if visible_alert(uow, c.who, alert_id) is None:
            raise HTTPException(404, "no such alert")
    now = _now()
    try:
        run(now)
    except actions.AlertChanged as error:
        raise HTTPException(409, str(error)) from None
    except (TransitionError, LookupError) as error:
        raise HTTPException(422, str(error)) from None
    with rt.uow() as uow:
        audit(uow, c.who.username, action, now, "alert", alert_id)
        uow.publish_on_commit([alert_id])
        uow.commit()
        a = uow.session.get(Alert, alert_id)
        p = uow.session.get(Patient, a.patient_id) if a else None
        assert a is not None and p is not None
        return alert_json(a, p)


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(rt: RuntimeDep, c: CallerDep, alert_id: AlertId, body: Note,
                x_csrf: Csrf = None) -> dict[str, Any]:
    check_csrf(c, x_csrf)
    return _alert_action(rt, c, alert_id, "acknowledge", lambda now: actions.acknowledge(
        rt.uow(), alert_id, c.who.username, body.note, now))


@router.post("/alerts/{alert_id}/shelve")
def shelve(rt: RuntimeDep, c: CallerDep, alert_id: AlertId, body: Shelf,
           x_csrf: Csrf = None) -> dict[str, Any]:
    check_csrf(c, x_csrf)
    return _alert_action(rt, c, alert_id, "shelve", lambda now: actions.shelve(
        rt.uow(), alert_id, c.who.username, body.reason, timedelta(minutes=body.minutes), now))


@router.post("/alerts/{alert_id}/unshelve")
def unshelve(rt: RuntimeDep, c: CallerDep, alert_id: AlertId,
             x_csrf: Csrf = None) -> dict[str, Any]:
    check_csrf(c, x_csrf)
    return _alert_action(rt, c, alert_id, "unshelve", lambda now: actions.unshelve(
        rt.uow(), alert_id, c.who.username, now))


@router.post("/alerts/{alert_id}/resolve")
def resolve(rt: RuntimeDep, c: CallerDep, alert_id: AlertId, body: Note,
            x_csrf: Csrf = None) -> dict[str, Any]:
    check_csrf(c, x_csrf)
    return _alert_action(rt, c, alert_id, "resolve", lambda now: actions.resolve(
        rt.uow(), alert_id, c.who.username, body.note or "", now))


@router.get("/patients/{patient_id}/risk-factors")
def risk_factors(rt: RuntimeDep, c: CallerDep, patient_id: PatientId) -> list[dict[str, Any]]:
    _visible(rt, c, patient_id, "view-risk-factors")
    with rt.uow() as uow:
        return [{"id": r.id, "factor": r.factor, "icd10_code": r.icd10_code,
                 "source": r.source, "active": r.active, "recorded_by": r.recorded_by,
                 "recorded_at": r.recorded_at.isoformat(), "reason": r.reason}
                for r in uow.session.scalars(select(RiskFactor).where(
                    RiskFactor.patient_id == patient_id).order_by(RiskFactor.id))]


class RiskIn(BaseModel):
    factor: str = Field(min_length=1, description="liver-disease, alcohol-use-disorder, "
                        "malnutrition, hypokalemia, or an ICD-10 code")
    reason: str = Field(min_length=1)


class Reason(BaseModel):
    reason: str = Field(min_length=1)


class AcuteIn(BaseModel):
    # Refused rather than ignored: `at` (a time inside the episode, before contract v2)
    # sent to this route would otherwise mark an onset of now without a word.
    model_config = ConfigDict(extra="forbid")

    onset: AwareDatetime | None = Field(default=None, description=(
        "the documented onset of the acute hyponatremia (ISO 8601 with offset); default: now"))
    reason: str = Field(min_length=1)


class SymptomsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    observed_at: AwareDatetime | None = Field(default=None, description=(
        "when the severe symptoms were observed (ISO 8601 with offset); default: now"))
    reason: str = Field(min_length=1, description="which symptoms: vomiting, seizures, ...")


class WeightIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight_kg: float = Field(description="body weight in kg (0.5-500)")
    measured_at: AwareDatetime | None = Field(default=None, description=(
        "when the patient was weighed (ISO 8601 with offset); default: now"))


def _clinical(rt: RuntimeDep, c: Caller, patient_id: int, action: str) -> None:
    require(c.who, action)
    with rt.uow() as uow:
        if visible_patient(uow, c.who, patient_id) is None:
            raise HTTPException(404, "no such patient")


@router.post("/patients/{patient_id}/risk-factors", status_code=201)
def add_risk(rt: RuntimeDep, c: CallerDep, patient_id: PatientId, body: RiskIn,
             x_csrf: Csrf = None) -> dict[str, Any]:
    """A physician adds a risk factor, with a reason; the patient is re-evaluated."""
    check_csrf(c, x_csrf)
    _clinical(rt, c, patient_id, "edit-risk")
    with rt.uow() as uow:
        row, done = clinician.add_risk_factor(uow, patient_id, body.factor, body.reason,
                                              c.who.username, rt.pipeline.policy, _now())
    return {"id": row.id, "changed_alerts": done.alerts}


@router.delete("/patients/{patient_id}/risk-factors/{risk_id}")
def remove_risk(rt: RuntimeDep, c: CallerDep, patient_id: PatientId, risk_id: RiskId, body: Reason,
                x_csrf: Csrf = None) -> dict[str, Any]:
    check_csrf(c, x_csrf)
    _clinical(rt, c, patient_id, "edit-risk")
    try:
        with rt.uow() as uow:
            done = clinician.remove_risk_factor(uow, patient_id, risk_id, body.reason,
                                                c.who.username, rt.pipeline.policy, _now())
    except LookupError as error:
        raise HTTPException(404, str(error)) from None
    return {"changed_alerts": done.alerts}


@router.post("/patients/{patient_id}/acute", status_code=201)
def acute(rt: RuntimeDep, c: CallerDep, patient_id: PatientId, body: AcuteIn,
          x_csrf: Csrf = None) -> dict[str, Any]:
    """Mark hyponatremia acute (documented onset < 48 h): the rate rules spare rises from
    values collected within the policy's acute_hours (48 h) of `onset`."""
    check_csrf(c, x_csrf)
    _clinical(rt, c, patient_id, "mark-acute")
    try:
        with rt.uow() as uow:
            row, done = clinician.mark_acute(uow, patient_id, body.onset, body.reason,
                                             c.who.username, rt.pipeline.policy, _now())
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    return {"id": row.id, "onset": row.onset_at.isoformat(), "changed_alerts": done.alerts}


@router.post("/patients/{patient_id}/severe-symptoms", status_code=201)
def severe_symptoms(rt: RuntimeDep, c: CallerDep, patient_id: PatientId, body: SymptomsIn,
                    x_csrf: Csrf = None) -> dict[str, Any]:
    """Record severe symptoms of hyponatremia: hypertonic saline ordered within the policy's
    treatment.symptoms_hours (24 h) of `observed_at` is indicated (HYPERTONIC_SALINE_MILD)."""
    check_csrf(c, x_csrf)
    _clinical(rt, c, patient_id, "record-symptoms")
    try:
        with rt.uow() as uow:
            row, done = clinician.record_severe_symptoms(
                uow, patient_id, body.observed_at, body.reason, c.who.username,
                rt.pipeline.policy, _now())
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    return {"id": row.id, "observed_at": row.observed_at.isoformat(),
            "changed_alerts": done.alerts}


@router.post("/patients/{patient_id}/body-weight", status_code=201)
def body_weight(rt: RuntimeDep, c: CallerDep, patient_id: PatientId, body: WeightIn,
                x_csrf: Csrf = None) -> dict[str, Any]:
    """A nurse or physician enters the patient's body weight; the latest weight, entered or
    received, is the one the patient page's infusion prediction uses."""
    check_csrf(c, x_csrf)
    _clinical(rt, c, patient_id, "record-weight")
    try:
        with rt.uow() as uow:
            row = record_body_weight(uow, patient_id, body.weight_kg, body.measured_at,
                                     c.who.username, _now())
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    return {"id": row.id, "weight_kg": row.weight_kg,
            "measured_at": row.measured_at.isoformat()}


@router.get("/wards")
def wards(rt: RuntimeDep, c: CallerDep) -> list[dict[str, Any]]:
    require(c.who, "view")
    q = select(Ward).order_by(Ward.code)
    if c.who.wards is not None:
        q = q.where(Ward.id.in_(c.who.wards))
    with rt.uow() as uow:
        return [{"code": w.code, "name": w.name, "policy": w.policy,
                 "escalate_critical_after_s": w.escalate_critical_after_s,
                 "escalate_warning_after_s": w.escalate_warning_after_s,
                 "repeat_every_s": w.repeat_every_s} for w in uow.session.scalars(q)]


@router.get("/rosters")
def rosters(rt: RuntimeDep, c: CallerDep) -> list[dict[str, Any]]:
    require(c.who, "view")
    q = (select(OnCallShift, Ward.code, User.username)
         .join(Ward, Ward.id == OnCallShift.ward_id).join(User, User.id == OnCallShift.user_id))
    if c.who.wards is not None:
        q = q.where(Ward.id.in_(c.who.wards))
    with rt.uow() as uow:
        return [{"ward": w, "user": u, "from": s.starts_at.isoformat(),
                 "to": s.ends_at.isoformat()} for s, w, u in uow.session.execute(q)]


@router.get("/users")
def users(rt: RuntimeDep, c: CallerDep) -> list[dict[str, Any]]:
    require(c.who, "admin")
    with rt.uow() as uow:
        return [{"username": u.username, "role": u.role, "active": u.active}
                for u in uow.session.scalars(select(User).order_by(User.username))]


@router.get("/feeds")
def feeds(rt: RuntimeDep, c: CallerDep) -> list[dict[str, Any]]:
    require(c.who, "admin")
    with rt.uow() as uow:
        return [{"name": f.name, "kind": f.kind, "last_message_at":
                 f.last_message_at.isoformat() if f.last_message_at else None,
                 "silent_after_s": f.silent_after_s}
                for f in uow.session.scalars(select(Feed).order_by(Feed.name))]


@router.get("/rejects")
def rejects(rt: RuntimeDep, c: CallerDep, limit: Limit = 100) -> list[dict[str, Any]]:
    require(c.who, "admin")
    with rt.uow() as uow:
        found = list(list_rejects(uow, min(limit, 1000)))  # rejects hold what feeds sent
        audit(uow, c.who.username, "list-rejects", _now(), shown=len(found))
        uow.commit()
        return found


@router.post("/rejects/{reject_id}/retry")
def retry(rt: RuntimeDep, c: CallerDep, reject_id: RejectId, x_csrf: Csrf = None) -> dict[str, Any]:
    check_csrf(c, x_csrf)
    require(c.who, "admin")
    uow = rt.uow()
    uow.on_commit(rt.dispatcher.process)  # the row retried, if any, is the workers' now
    try:
        result = retry_reject(uow, reject_id, rt.pipeline, _now())
    except LookupError as error:
        raise HTTPException(404, str(error)) from None
    return {"outcome": result.outcome, "inbox_id": result.inbox_id, "detail": result.detail}


@router.get("/audit")
def audit_log(rt: RuntimeDep, c: CallerDep, limit: Limit = 200,
              actor: str | None = None) -> list[dict[str, Any]]:
    require(c.who, "admin")
    with rt.uow() as uow:
        found = list(entries(uow, min(limit, 5000), actor))
        audit(uow, c.who.username, "read-audit", _now(), "user", actor, shown=len(found))
        uow.commit()
        return found
