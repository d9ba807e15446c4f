"""FHIR R4 reads of alerts: each alert as a DetectedIssue, and a Flag for each patient with
an open overcorrection event. Same bearer tokens, ward scoping and read audit as the JSON
API (monitor/web/api.py): another ward's alert is not found, every read is audited.

DetectedIssue.status binds (required) to ObservationStatus: an active alert is
"preliminary" (its evidence may still grow, its severity change), a resolved one "final",
a withdrawn one (its results corrected away) "entered-in-error".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import ColumnElement, Select, and_, func, or_, select

from monitor.services.access.audit import audit
from monitor.services.access.scope import require, scoped_patients
from monitor.storage.tables import Alert, AlertEvent, FhirPatientLink, Patient, Result
from monitor.web.deps import MAX_ROW_ID, RuntimeDep
from monitor.web.security import CallerDep

router = APIRouter(prefix="/fhir", tags=["FHIR read"])
FHIR_JSON = "application/fhir+json"
RULE_SYSTEM = "urn:sodium-monitor:alert-rule"  # our local CodeSystem of rule names
STATUS = {"active": "preliminary", "resolved": "final", "withdrawn": "entered-in-error"}
SEVERITY = {"critical": "high", "warning": "moderate"}  # anything else: low
OVERCORRECTION = ("OVERCORRECTION_24H", "OVERCORRECTION_48H", "PROJECTED_OVERCORRECTION")
RECENT_DAYS = 7  # a closed alert is listed for this long after its last change
DEFAULT_COUNT, MAX_COUNT = 50, 200
MITIGATING = {"acknowledged": "Acknowledged", "resolved": "Resolved"}
Count = Annotated[int, Query(alias="_count", ge=0)]  # 0: the total only (FHIR search)
Offset = Annotated[int, Query(alias="_offset", ge=0, le=100_000)]
Token = Annotated[str | None, Query(alias="patient:identifier")]
Updated = Annotated[list[str] | None, Query(alias="_lastUpdated")]
CAPABILITY = [
    {"type": "DetectedIssue", "interaction": [{"code": "read"}, {"code": "search-type"}],
     "searchParam": [{"name": n, "type": t} for n, t in (
         ("patient", "reference"), ("patient:identifier", "token"), ("status", "token"),
         ("_lastUpdated", "date"), ("_count", "number"))]},
    {"type": "Flag", "interaction": [{"code": "read"}, {"code": "search-type"}],
     "searchParam": [{"name": n, "type": t} for n, t in (
         ("patient", "reference"), ("patient:identifier", "token"), ("status", "token"),
         ("_count", "number"))]},
]


class BadSearch(ValueError):
    """A search parameter that cannot be understood: 400 with an OperationOutcome."""


def _outcome(status: int, code: str, reason: str) -> JSONResponse:
    return JSONResponse({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": code, "diagnostics": reason}]},
        status_code=status, media_type=FHIR_JSON)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _patient_filters(patient: str | None, identifier: str | None) -> list[ColumnElement[bool]]:
    """`patient`: a FHIR Patient id the feeds sent (fhir_patient_links), with or without
    "Patient/"; `patient:identifier`: system|value, |value (no system) or value (any)."""
    where: list[ColumnElement[bool]] = []
    if patient is not None:
        fhir_id = patient.removeprefix("Patient/")
        where.append(select(FhirPatientLink.fhir_id).where(
            FhirPatientLink.fhir_id == fhir_id,
            FhirPatientLink.authority == Patient.authority,
            FhirPatientLink.identifier == Patient.identifier).exists())
    if identifier is not None:
        system, bar, value = identifier.rpartition("|")
        where.append(Patient.identifier == value)
        if bar:
            where.append(Patient.authority == system)
    return where


def _updated_filters(values: list[str]) -> list[ColumnElement[bool]]:
    ops: dict[str, Callable[[datetime], ColumnElement[bool]]] = {
        "ge": lambda t: Alert.updated_at >= t, "le": lambda t: Alert.updated_at <= t,
        "gt": lambda t: Alert.updated_at > t, "lt": lambda t: Alert.updated_at < t}
    where = []
    for value in values:
        prefix, rest = (value[:2], value[2:]) if value[:2] in ops else ("", value)
        try:
            at = datetime.fromisoformat(rest)
        except ValueError:
            raise BadSearch(f"_lastUpdated {value!r} is not a date or dateTime") from None
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        if not prefix:  # eq: the whole second or day given
            span = timedelta(days=1) if len(rest) <= 10 else timedelta(seconds=1)
            where.append(and_(Alert.updated_at >= at, Alert.updated_at < at + span))
        else:
            where.append(ops[prefix](at))
    return where


def _links(s: Any, patients: list[Patient]) -> dict[tuple[str, str], str]:
    keys = {p.identifier for p in patients}
    if not keys:
        return {}
    return {(link.authority, link.identifier): link.fhir_id for link in s.scalars(
        select(FhirPatientLink).where(FhirPatientLink.identifier.in_(keys))
        .order_by(FhirPatientLink.linked_at))}


def _subject(p: Patient, links: dict[tuple[str, str], str]) -> dict[str, Any]:
    ident: dict[str, str] = {"value": p.identifier}
    if p.authority:
        ident["system"] = p.authority
    ref: dict[str, Any] = {"identifier": ident}
    fhir_id = links.get((p.authority, p.identifier))
    if fhir_id:
        ref["reference"] = f"Patient/{fhir_id}"
    return ref


def _implicated(result: Result | None) -> list[dict[str, str]]:
    """The triggering result as an Observation reference, when it came from a FHIR feed
    with a logical id (its key has no system|value); HL7 and CSV results have none."""
    if result is None or not result.source_feed.startswith("fhir") or "|" in result.result_key:
        return []
    return [{"reference": f"Observation/{result.result_key}"}]


def detected_issue(a: Alert, p: Patient, links: dict[tuple[str, str], str],
                   result: Result | None, events: list[AlertEvent]) -> dict[str, Any]:
    issue: dict[str, Any] = {
        "resourceType": "DetectedIssue", "id": str(a.id),
        "meta": {"lastUpdated": _iso(a.updated_at)},
        "status": STATUS.get(a.state, "unknown"),
        "code": {"coding": [{"system": RULE_SYSTEM, "code": a.rule}],
                 "text": a.rule.replace("_", " ").capitalize()},
        "severity": SEVERITY.get(a.severity, "low"),
        "patient": _subject(p, links),
        "identifiedDateTime": _iso(a.triggered_at),
        "detail": a.message,
    }
    implicated = _implicated(result)
    if implicated:
        issue["implicated"] = implicated
    mitigation = [{"action": {"text": MITIGATING[e.action] + (f": {e.reason}" if e.reason
                                                              else "")},
                   "date": _iso(e.at), "author": {"display": e.actor}}
                  for e in events if e.action in MITIGATING]
    if mitigation:
        issue["mitigation"] = mitigation
    return issue


def flag(p: Patient, alerts: list[Alert], links: dict[tuple[str, str], str]) -> dict[str, Any]:
    rules = sorted({a.rule for a in alerts})
    return {
        "resourceType": "Flag", "id": str(p.id),
        "meta": {"lastUpdated": _iso(max(a.updated_at for a in alerts))},
        "status": "active",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/flag-category",
            "code": "clinical", "display": "Clinical"}]}],
        "code": {"coding": [{"system": RULE_SYSTEM, "code": r} for r in rules],
                 "text": "Sodium overcorrection: " + ", ".join(rules)},
        "subject": _subject(p, links),
        "period": {"start": _iso(min(a.triggered_at for a in alerts))},
    }


def _bundle(request: Request, entries: list[dict[str, Any]], total: int, offset: int,
            count: int) -> JSONResponse:
    links = [{"relation": "self", "url": str(request.url)}]
    if count and offset + count < total:
        links.append({"relation": "next", "url": str(request.url.include_query_params(
            _offset=offset + count, _count=count))})
    return JSONResponse({
        "resourceType": "Bundle", "type": "searchset", "total": total, "link": links,
        "entry": [{"fullUrl": str(request.url_for("read_" + e["resourceType"].lower(),
                                                  resource_id=e["id"])),
                   "resource": e, "search": {"mode": "match"}} for e in entries]},
        media_type=FHIR_JSON)


def _issues(rt: RuntimeDep, q: Select, offset: int, count: int  # type: ignore[type-arg]
            ) -> tuple[list[dict[str, Any]], int]:
    with rt.uow() as uow:
        s = uow.session
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = list(s.execute(q.order_by(Alert.updated_at.desc(), Alert.id.desc())
                              .offset(offset).limit(count)))
        links = _links(s, [p for _, p in rows])
        ids = [a.id for a, _ in rows]
        events: dict[int, list[AlertEvent]] = {i: [] for i in ids}
        for e in s.scalars(select(AlertEvent).where(AlertEvent.alert_id.in_(ids))
                           .order_by(AlertEvent.at, AlertEvent.id)):
            events[e.alert_id].append(e)
        results = {r.id: r for r in s.scalars(select(Result).where(Result.id.in_(
            [a.triggering_result_id for a, _ in rows if a.triggering_result_id])))}
        return [detected_issue(a, p, links, results.get(a.triggering_result_id or 0),
                               events[a.id]) for a, p in rows], total


@router.get("/DetectedIssue")
def search_detected_issues(request: Request, rt: RuntimeDep, c: CallerDep,
                           patient: str | None = None, identifier: Token = None,
                           status: str | None = None, updated: Updated = None,
                           count: Count = DEFAULT_COUNT, offset: Offset = 0) -> JSONResponse:
    """Alerts of your wards as DetectedIssue: the active ones and those closed in the last
    7 days, newest change first."""
    require(c.who, "view")
    count, now = min(count, MAX_COUNT), datetime.now(UTC)
    q = select(Alert, Patient).join(Patient, Patient.id == Alert.patient_id).where(
        or_(Alert.state == "active", Alert.updated_at >= now - timedelta(days=RECENT_DAYS)),
        *_patient_filters(patient, identifier))
    if status is not None:
        states = [s for s, code in STATUS.items() if code in status.split(",")]
        q = q.where(Alert.state.in_(states))
    try:
        q = q.where(*_updated_filters(updated or []))
    except BadSearch as error:
        return _outcome(400, "invalid", str(error))
    found, total = _issues(rt, scoped_patients(q, c.who), offset, count)
    with rt.uow() as uow:
        audit(uow, c.who.username, "list-alerts", now, "patient", patient or identifier,
              resource="DetectedIssue", shown=len(found))
        uow.commit()
    return _bundle(request, found, total, offset, count)


def _row_id(resource_id: str) -> int | None:
    return int(resource_id) if resource_id.isdigit() and 1 <= int(resource_id) <= MAX_ROW_ID \
        else None


@router.get("/DetectedIssue/{resource_id}", name="read_detectedissue")
def read_detected_issue(rt: RuntimeDep, c: CallerDep, resource_id: str) -> JSONResponse:
    require(c.who, "view")
    alert_id = _row_id(resource_id)
    q = select(Alert, Patient).join(Patient, Patient.id == Alert.patient_id).where(
        Alert.id == (alert_id or 0))
    found, _ = _issues(rt, scoped_patients(q, c.who), 0, 1)
    if not found:
        return _outcome(404, "not-found", f"no DetectedIssue/{resource_id}")
    with rt.uow() as uow:
        audit(uow, c.who.username, "view-alert", datetime.now(UTC), "alert", alert_id,
              resource="DetectedIssue")
        uow.commit()
    return JSONResponse(found[0], media_type=FHIR_JSON)


def _flags(rt: RuntimeDep, q: Select) -> list[dict[str, Any]]:  # type: ignore[type-arg]
    with rt.uow() as uow:
        rows = list(uow.session.execute(q.where(
            Alert.state == "active", Alert.rule.in_(OVERCORRECTION))
            .order_by(Patient.id, Alert.triggered_at)))
        by_patient: dict[int, tuple[Patient, list[Alert]]] = {}
        for a, p in rows:
            by_patient.setdefault(p.id, (p, []))[1].append(a)
        links = _links(uow.session, [p for p, _ in by_patient.values()])
        return [flag(p, alerts, links) for p, alerts in by_patient.values()]


@router.get("/Flag")
def search_flags(request: Request, rt: RuntimeDep, c: CallerDep, patient: str | None = None,
                 identifier: Token = None, status: str | None = None,
                 count: Count = DEFAULT_COUNT, offset: Offset = 0) -> JSONResponse:
    """A Flag for each patient of your wards with an open overcorrection event."""
    require(c.who, "view")
    count = min(count, MAX_COUNT)
    q = select(Alert, Patient).join(Patient, Patient.id == Alert.patient_id).where(
        *_patient_filters(patient, identifier))
    every = [] if status is not None and "active" not in status.split(",") else \
        _flags(rt, scoped_patients(q, c.who))
    found = every[offset:offset + count]
    with rt.uow() as uow:
        audit(uow, c.who.username, "list-alerts", datetime.now(UTC), "patient",
              patient or identifier, resource="Flag", shown=len(found))
        uow.commit()
    return _bundle(request, found, len(every), offset, count)


@router.get("/Flag/{resource_id}", name="read_flag")
def read_flag(rt: RuntimeDep, c: CallerDep, resource_id: str) -> JSONResponse:
    require(c.who, "view")
    patient_id = _row_id(resource_id)
    q = select(Alert, Patient).join(Patient, Patient.id == Alert.patient_id).where(
        Patient.id == (patient_id or 0))
    found = _flags(rt, scoped_patients(q, c.who))
    if not found:
        return _outcome(404, "not-found", f"no Flag/{resource_id}")
    with rt.uow() as uow:
        audit(uow, c.who.username, "view-patient", datetime.now(UTC), "patient", patient_id,
              resource="Flag")
        uow.commit()
    return JSONResponse(found[0], media_type=FHIR_JSON)
