"""The dashboard pages: server-rendered, usable without JavaScript (except live updates)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.alerts.lifecycle import TransitionError
from monitor.engine.messages import lab_factor_words
from monitor.engine.model import Method
from monitor.engine.risk import factors_from_diagnoses
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
    patient_detail,
    ward_codes,
)
from monitor.services.evaluation.reevaluation import diagnosis_codes
from monitor.web.api import WindowDays, WindowFrom
from monitor.web.charts import Point, judged, patient_chart, sparkline
from monitor.web.deps import AlertId, PatientId, RuntimeDep
from monitor.web.security import CallerDep, check_csrf, cookie_name, secure_site
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
def login_page(request: Request, next: str = "/board", error: str = "") -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html",
                                      {"who": None, "next": next, "error": error})


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
    reply.set_cookie(cookie_name(rt), signed.token, httponly=True, samesite="lax", path="/",
                     secure=secure_site(rt) or request.url.scheme == "https",
                     max_age=12 * 3600)
    return reply


@router.post("/logout")
def logout_submit(request: Request, rt: RuntimeDep, c: CallerDep,
                  csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(c, csrf)
    with rt.uow() as uow:
        logout(uow, request.cookies.get(cookie_name(rt), ""))
    reply = RedirectResponse("/login", status_code=303)
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
        codes = diagnosis_codes(uow, patient_id)
        uow.commit()
    results = d["results"]
    policy = d["policy"]
    glucose = [_point(r) for r in results if r.analyte == "glucose" and r.value_mmol_l is not None]
    sodium = judged([_point(r) for r in results if r.analyte == "sodium"
                     and r.value_mmol_l is not None], glucose, policy)
    potassium = [_point(r) for r in results if r.analyte == "potassium" and r.is_current
                 and not r.removed and r.flag is None and r.value_mmol_l is not None]
    lead_in = [_point(r) for r in d["lead_in"] if r.value_mmol_l is not None
               and r.flag is None]
    diagnosed = factors_from_diagnoses(codes, policy)
    lab = sorted({f for a in d["alerts"] if a.state == "active" for f in a.risk_factors}
                 - set(diagnosed))
    # The tier the rules use: a code the policy maps to no risk factor raises no tier.
    high = bool(diagnosed) or bool(lab)
    chart = patient_chart(sodium, potassium, policy, high, d["triggering"], lead_in=lead_in,
                          zone=rt.settings.display_zone)
    return _page(request, rt, c.who, c.csrf, "patient.html", p=d["patient"], ward=d["ward"],
                 results=results, alerts=d["alerts"], events=d["events"], risks=d["risks"],
                 lab_factors=[lab_factor_words(f, policy) for f in lab], chart=chart,
                 policy=policy, window=d["window"],
                 older=_older(d["window"]), default_days=PATIENT_WINDOW_DAYS,
                 tier="high" if high else "standard", limits=policy.tier_limits(high),
                 high_limits=policy.tier_limits(True), marks=d["marks"],
                 acute_span=timedelta(hours=policy.episodes.acute_hours), nav="patient")


def _older(w: Window) -> dict[str, str] | None:
    """The "show older" links' query values: twice as many days, and from the first result."""
    if not w.has_older or w.earliest is None:
        return None
    shown = w.days or -(-((w.latest or w.since) - w.since) // timedelta(days=1))
    return {"days": str(2 * max(shown, 1)), "from": f"{w.earliest:%Y-%m-%d}"}


def _point(r: Any) -> Point:
    shown = bool(r.is_current and not r.removed)
    flag = r.flag if shown else None  # a flag on a superseded version no longer applies
    return Point(at=r.collected_at, value=r.value_mmol_l, method=r.method, status=r.status,
                 counted=shown and flag is None, source=r.source_feed,
                 key=r.result_key if r.method != Method.URINE else "", flag=flag)


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


__all__ = ["Forbidden", "router"]
