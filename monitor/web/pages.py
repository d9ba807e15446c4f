"""The dashboard pages: server-rendered, usable without JavaScript (except live updates)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.alerts.lifecycle import OPEN, RATE_RULES, TransitionError
from monitor.engine.medication import VOID_STATUSES
from monitor.engine.messages import diagnosis_words, lab_factor_words, risk_choices
from monitor.engine.risk import held_factors
from monitor.runtime import Runtime
from monitor.services.access.audit import audit
from monitor.services.access.auth import LoginRefused, login, logout
from monitor.services.access.scope import Forbidden, Principal, require, visible_alert
from monitor.services.alerting import actions
from monitor.services.dashboards.views import (
    PATIENT_WINDOW_DAYS,
    WAITING,
    CensusRow,
    Window,
    board,
    census,
    count_unacknowledged,
    event_runs,
    patient_detail,
    patient_policy,
    ward_codes,
)
from monitor.services.evaluation import clinician
from monitor.services.evaluation.reevaluation import diagnoses
from monitor.services.evaluation.treatment import (
    infusion_inputs,
    patient_treatment,
    record_body_weight,
)
from monitor.web.api import WindowDays, WindowFrom
from monitor.web.chart_facts import chart_section
from monitor.web.charts import sparkline
from monitor.web.clock import field_value, from_field, when
from monitor.web.deps import AlertId, PatientId, RiskId, RuntimeDep
from monitor.web.infusion_panel import infusion_panel
from monitor.web.security import (
    CallerDep,
    check_csrf,
    cookie_name,
    secure_site,
    set_session_cookie,
)
from monitor.web.templating import templates

router = APIRouter(include_in_schema=False)
FormStr = Annotated[str, Form()]


def _page(request: Request, rt: Runtime, who: Principal, csrf: str | None, name: str,
          **context: Any) -> HTMLResponse:
    with rt.uow() as uow:
        wards = ward_codes(uow, who)
        waiting = count_unacknowledged(uow, who)
    # The confirmation of the action that led here (every action redirects with ?flash=),
    # shown by every page in the same place.
    flash = request.query_params.get("flash", "")[:300]
    return templates.TemplateResponse(request, name, {
        "who": who, "csrf": csrf or "", "wards": wards, "unacknowledged_count": waiting,
        "flash": flash, **context})


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/board", error: str = "",
               signed_out: str = "") -> HTMLResponse:
    # Signing out is confirmed like every action, in a fixed sentence: the sign-in page
    # shows no text taken from its address.
    return templates.TemplateResponse(request, "login.html", {
        "who": None, "next": next, "error": error,
        "flash": "You are signed out." if signed_out else ""})


@router.post("/login")
def login_submit(request: Request, rt: RuntimeDep, username: FormStr, password: FormStr,
                 next: Annotated[str, Form()] = "/board") -> Response:
    try:
        with rt.uow() as uow:
            signed = login(uow, username, password, datetime.now(UTC),
                           source=request.client.host if request.client else "")
    except LoginRefused as refused:
        waiting = refused.retry_after_s is not None
        return templates.TemplateResponse(
            request, "login.html", {"who": None, "next": next, "error": str(refused)},
            status_code=429 if waiting else 401,
            headers={"Retry-After": str(refused.retry_after_s)} if waiting else None)
    target = next if next.startswith("/") and not next.startswith("//") else "/board"
    reply = RedirectResponse(target, status_code=303)
    set_session_cookie(reply, rt, request, signed.token)
    return reply


@router.post("/logout")
def logout_submit(request: Request, rt: RuntimeDep, c: CallerDep,
                  csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(c, csrf)
    with rt.uow() as uow:
        logout(uow, request.cookies.get(cookie_name(rt), ""))
    reply = RedirectResponse("/login?signed_out=1", status_code=303)
    reply.delete_cookie(cookie_name(rt), path="/", secure=secure_site(rt), httponly=True)
    return reply


@router.get("/")
def home() -> Response:
    return RedirectResponse("/board", status_code=303)


@router.get("/board", response_class=HTMLResponse)
def board_page(request: Request, rt: RuntimeDep, c: CallerDep) -> HTMLResponse:
    require(c.who, "view")
    now = datetime.now(UTC)
    with rt.uow() as uow:
        cards = board(uow, c.who, now)
        audit(uow, c.who.username, "view-board", now,
              shown=sum(len(card.rows) for card in cards))
        uow.commit()
    rows = [r["alert"] for card in cards for r in card.rows]
    waiting = sum(a.lifecycle in WAITING for a in rows)  # the views' own definition
    return _page(request, rt, c.who, c.csrf, "board.html", cards=cards, nav="board",
                 waiting=waiting, handled=len(rows) - waiting,
                 repeat_s=CRITICAL_TONE_REPEAT_S)


# How often the board repeats its tone while an unacknowledged critical alert is on it (and
# the sound is on): a UI default, not a clinical number (README, "Dashboards").
CRITICAL_TONE_REPEAT_S = 30


SORTS = [("urgency", "Most urgent"), ("bed", "Room and bed"), ("na", "Latest Na"),
         ("change", "24 h change"), ("alerts", "Alerts")]


@router.get("/wards/{code}", response_class=HTMLResponse)
def census_page(request: Request, rt: RuntimeDep, c: CallerDep, code: str, q: str = "",
                sort: str = "urgency", alerts: str = "") -> HTMLResponse:
    require(c.who, "view")
    now = datetime.now(UTC)
    with rt.uow() as uow:
        found = census(uow, c.who, code, rt.pipeline.policy, now)
        if found is None:
            raise HTTPException(404, "no such ward")
        audit(uow, c.who.username, "view-census", now, "ward", code, search=q)
        uow.commit()
    rows = found.rows
    if q:
        rows = [r for r in rows if q.lower() in " ".join(
            x or "" for x in (r.patient.display_name, r.patient.room, r.patient.bed,
                              r.patient.identifier)).lower()]
    if alerts:
        rows = [r for r in rows if r.alerts]
    keys: dict[str, Any] = {
        "urgency": CensusRow.urgency,
        "na": lambda r: (r.latest is None, r.latest or 0),
        "change": lambda r: -(r.change_24h or 0),
        "alerts": lambda r: (-len(r.alerts), r.patient.room or "", r.patient.bed or ""),
        "bed": lambda r: (r.patient.room or "", r.patient.bed or "", r.patient.identifier)}
    rows.sort(key=keys.get(sort, keys["urgency"]))
    for r in rows:
        r.spark = sparkline([v for _, v in r.sparkline])
    return _page(request, rt, c.who, c.csrf, "census.html", rows=rows, ward=code, q=q,
                 sort=sort, sorts=SORTS, only_alerts=bool(alerts), now=now,
                 policy=found.policy, nav=f"ward:{code}")


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(request: Request, rt: RuntimeDep, c: CallerDep, patient_id: PatientId,
                 days: WindowDays = None, from_: WindowFrom = None) -> HTMLResponse:
    require(c.who, "view")
    now = datetime.now(UTC)
    with rt.uow() as uow:
        d = patient_detail(uow, c.who, patient_id, rt.pipeline.policy, now, days, from_)
        if d is None:
            raise HTTPException(404, "no such patient")
        audit(uow, c.who.username, "view-patient", now, "patient", patient_id)
        stated = diagnoses(uow, patient_id)
        medications, symptoms = patient_treatment(uow, patient_id)
        engine_meds, weight = infusion_inputs(uow, patient_id, medications)
        uow.commit()
    results = d["results"]
    policy = d["policy"]
    diagnosed = {h.factor for h in held_factors(stated, policy)}
    lab = sorted({f for a in d["alerts"] if a.state == "active" for f in a.risk_factors}
                 - diagnosed)
    chart = chart_section(
        results, d["lead_in"], stated, [m.onset_at for m in d["marks"]],
        any(a.rule in RATE_RULES and a.lifecycle in OPEN for a in d["alerts"]),
        d["patient"].discharged_at is not None, d["triggering"], policy, now,
        rt.settings.display_zone, [m.at for m in medications if m.med_class == "vaptan"
                                   and m.status not in VOID_STATUSES], d["medications"])
    facts = chart["chart_facts"]
    zone = rt.settings.display_zone
    infusion = infusion_panel(
        engine_meds, weight, d["patient"].sex, d["patient"].birth_date,
        facts.allowance if facts else None, facts.ceiling_text if facts else None, results,
        policy, now, lambda at: when(at, zone, now))
    return _page(request, rt, c.who, c.csrf, "patient.html", p=d["patient"], ward=d["ward"],
                 results=results, alerts=d["alerts"], events=d["events"], risks=d["risks"],
                 lab_factors=[lab_factor_words(f, policy) for f in lab], **chart,
                 policy=policy, window=d["window"],
                 older=_older(d["window"]), default_days=PATIENT_WINDOW_DAYS,
                 high_limits=policy.tier_limits(True), marks=d["marks"],
                 acute_span=timedelta(hours=policy.episodes.acute_hours), nav="patient",
                 medications=medications, symptoms=symptoms, infusion=infusion,
                 infusion_weight=weight,
                 symptoms_span=timedelta(hours=policy.treatment.symptoms_hours),
                 runs={a: event_runs(e) for a, e in d["events"].items()},
                 risk_choices=risk_choices(policy),
                 spans=d["spans"],
                 risk_words=lambda code: diagnosis_words(code, policy),
                 onset_default=field_value(now, rt.settings.display_zone),
                 printed=f"Printed {when(now, rt.settings.display_zone)} "
                         f"({rt.settings.display_zone}) by {c.who.username}")


def _older(w: Window) -> dict[str, str] | None:
    """The "show older" links' query values: twice as many days, and from the first result."""
    if not w.has_older or w.earliest is None:
        return None
    shown = w.days or -(-((w.latest or w.since) - w.since) // timedelta(days=1))
    return {"days": str(2 * max(shown, 1)), "from": f"{w.earliest:%Y-%m-%d}"}


def _act(rt: Runtime, c: Any, alert_id: int, action: str, run: Any, back: str) -> Response:
    now = datetime.now(UTC)
    require(c.who, action)
    with rt.uow() as uow:
        if visible_alert(uow, c.who, alert_id) is None:
            raise HTTPException(404, "no such alert")
    try:
        run(now)
        message = f"Alert {alert_id}: {action} done."
    except (TransitionError, actions.AlertChanged, LookupError) as error:
        message = f"Alert {alert_id}: {error}"
    else:  # audited like the API: the actions that happened
        with rt.uow() as uow:
            audit(uow, c.who.username, action, now, "alert", alert_id)
            uow.publish_on_commit([alert_id])
            uow.commit()
    target = back if back.startswith("/") and not back.startswith("//") else "/board"
    return RedirectResponse(f"{target}?flash={quote(message)}", status_code=303)


@router.post("/alerts/{alert_id}/ack")
def ack_form(rt: RuntimeDep, c: CallerDep, alert_id: AlertId, csrf: FormStr = "",
             back: Annotated[str, Form()] = "/board") -> Response:
    # csrf defaults to "": a form without the field is refused by check_csrf (403), not 422.
    check_csrf(c, csrf)
    return _act(rt, c, alert_id, "acknowledge", lambda now: actions.acknowledge(
        rt.uow(), alert_id, c.who.username, None, now), back)


@router.post("/alerts/{alert_id}/shelve")
def shelve_form(rt: RuntimeDep, c: CallerDep, alert_id: AlertId, reason: FormStr,
                csrf: FormStr = "", hours: Annotated[float, Form()] = 2,
                back: Annotated[str, Form()] = "/board") -> Response:
    check_csrf(c, csrf)
    return _act(rt, c, alert_id, "shelve", lambda now: actions.shelve(
        rt.uow(), alert_id, c.who.username, reason, timedelta(hours=hours), now), back)


@router.post("/alerts/{alert_id}/unshelve")
def unshelve_form(rt: RuntimeDep, c: CallerDep, alert_id: AlertId, csrf: FormStr = "",
                  back: Annotated[str, Form()] = "/board") -> Response:
    check_csrf(c, csrf)
    return _act(rt, c, alert_id, "unshelve", lambda now: actions.unshelve(
        rt.uow(), alert_id, c.who.username, now), back)


@router.post("/alerts/{alert_id}/resolve")
def resolve_form(rt: RuntimeDep, c: CallerDep, alert_id: AlertId, note: FormStr,
                 csrf: FormStr = "", back: Annotated[str, Form()] = "/board") -> Response:
    check_csrf(c, csrf)
    return _act(rt, c, alert_id, "resolve", lambda now: actions.resolve(
        rt.uow(), alert_id, c.who.username, note, now), back)


def _clinical(rt: Runtime, c: Any, patient_id: int, action: str, csrf: str, run: Any,
              done: str) -> Response:
    """A physician's change from the patient page: the API's checks (CSRF, role, ward) and
    the same clinician service, then back to the page with what was done or refused."""
    check_csrf(c, csrf)
    require(c.who, action)  # a nurse gets the 403 page, as for any other forbidden action
    with rt.uow() as uow:
        policy = patient_policy(uow, c.who, patient_id, rt.pipeline.policy)
    if policy is None:
        raise HTTPException(404, "no such patient")
    try:
        with rt.uow() as uow:
            run(uow, policy, datetime.now(UTC))
        message = done
    except (ValueError, LookupError) as error:
        message = f"Not recorded: {error}."
    return RedirectResponse(f"/patients/{patient_id}?flash={quote(message)}",
                            status_code=303)


@router.post("/patients/{patient_id}/risk-factors")
def add_risk_form(rt: RuntimeDep, c: CallerDep, patient_id: PatientId, factor: FormStr = "",
                  reason: FormStr = "", csrf: FormStr = "") -> Response:
    def run(uow: Any, policy: Any, now: datetime) -> None:
        # Only the policy's own list: what the select offers is all a form may record.
        if factor not in dict(risk_choices(policy)):
            raise ValueError(f"{factor or 'no risk factor'} is not on the list of "
                             f"policy {policy.name}")
        clinician.add_risk_factor(uow, patient_id, factor, reason, c.who.username,
                                  rt.pipeline.policy, now)
    words = dict(risk_choices(rt.pipeline.policy)).get(factor, factor)
    return _clinical(rt, c, patient_id, "edit-risk", csrf, run,
                     f"Risk factor recorded: {words}.")


@router.post("/patients/{patient_id}/risk-factors/{risk_id}/remove")
def remove_risk_form(rt: RuntimeDep, c: CallerDep, patient_id: PatientId, risk_id: RiskId,
                     reason: FormStr = "", csrf: FormStr = "") -> Response:
    return _clinical(rt, c, patient_id, "edit-risk", csrf, lambda uow, _, now:
                     clinician.remove_risk_factor(uow, patient_id, risk_id, reason,
                                                  c.who.username, rt.pipeline.policy, now),
                     "Risk factor removed.")


@router.post("/patients/{patient_id}/acute")
def acute_form(rt: RuntimeDep, c: CallerDep, patient_id: PatientId, onset: FormStr = "",
               reason: FormStr = "", csrf: FormStr = "") -> Response:
    zone = rt.settings.display_zone

    def run(uow: Any, _: Any, now: datetime) -> None:
        # Typed in the wards' time (the display zone), as every time on the page is shown.
        at = from_field(onset, zone) if onset.strip() else None
        clinician.mark_acute(uow, patient_id, at, reason, c.who.username,
                             rt.pipeline.policy, now)
    shown = f" (onset {when(from_field(onset, zone), zone)})" if _readable(onset, zone) else ""
    return _clinical(rt, c, patient_id, "mark-acute", csrf, run,
                     f"Marked acute{shown}.")


@router.post("/patients/{patient_id}/severe-symptoms")
def symptoms_form(rt: RuntimeDep, c: CallerDep, patient_id: PatientId, observed: FormStr = "",
                  reason: FormStr = "", csrf: FormStr = "") -> Response:
    zone = rt.settings.display_zone

    def run(uow: Any, _: Any, now: datetime) -> None:
        at = from_field(observed, zone) if observed.strip() else None
        clinician.record_severe_symptoms(uow, patient_id, at, reason, c.who.username,
                                         rt.pipeline.policy, now)
    shown = f" (observed {when(from_field(observed, zone), zone)})" \
        if _readable(observed, zone) else ""
    return _clinical(rt, c, patient_id, "record-symptoms", csrf, run,
                     f"Severe symptoms recorded{shown}.")


@router.post("/patients/{patient_id}/body-weight")
def weight_form(rt: RuntimeDep, c: CallerDep, patient_id: PatientId, weight: FormStr = "",
                measured: FormStr = "", csrf: FormStr = "") -> Response:
    zone = rt.settings.display_zone

    def run(uow: Any, _: Any, now: datetime) -> None:
        try:
            kg = float(weight.strip().replace(",", "."))
        except ValueError:
            raise ValueError(f"'{weight.strip()}' is not a weight in kg") from None
        at = from_field(measured, zone) if measured.strip() else None
        record_body_weight(uow, patient_id, kg, at, c.who.username, now)
    return _clinical(rt, c, patient_id, "record-weight", csrf, run,
                     f"Body weight recorded: {weight.strip()} kg.")


def _readable(text: str, zone: Any) -> bool:
    try:
        from_field(text, zone)
    except ValueError:
        return False
    return True


__all__ = ["Forbidden", "router"]
