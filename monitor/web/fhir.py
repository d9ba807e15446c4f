"""FHIR R4 ingest: Observation, Condition, Patient, MedicationRequest,
MedicationAdministration and batch/transaction Bundles.

Each payload is committed to the inbox before the 2xx. A payload whose content cannot be
used gets an OperationOutcome with a 4xx and a row in rejects; one over 1 MiB, a 413.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from monitor.ingest import parse_fhir_resource
from monitor.ingest.authorities import canonical_patients
from monitor.ingest.events import Reject, UnmappedCode
from monitor.ingest.json_bounds import NotUsableJson, load_json
from monitor.runtime import Runtime
from monitor.services.intake.fhir_identity import resolve_payloads
from monitor.services.intake.inbox import receive, reject_payload, screen
from monitor.services.intake.limits import too_many_results
from monitor.web.body import MAX_RESULTS_BYTES, TooLarge, read_body
from monitor.web.deps import FeedDep, RuntimeDep
from monitor.web.fhir_read import CAPABILITY
from monitor.web.ingest import refuse_oversize

router = APIRouter(prefix="/fhir", tags=["FHIR ingest"])
FHIR_JSON = "application/fhir+json"


def outcome(status: int, problems: list[tuple[str, str]], code: str = "invalid") -> JSONResponse:
    issues = [{"severity": "error", "code": code, "diagnostics": reason,
               "expression": [where]} for where, reason in problems]
    return JSONResponse({"resourceType": "OperationOutcome", "issue": issues},
                        status_code=status, media_type=FHIR_JSON)


def _refuse(rt: Runtime, feed: str, where: str, reason: str, raw: bytes, now: datetime,
            status: int = 400, code: str = "structure") -> JSONResponse:
    """A payload refused whole: an OperationOutcome, and the payload kept as a reject."""
    with rt.uow() as uow:
        reject_payload(uow, feed, "fhir", where, reason,
                       raw.decode("utf-8", errors="replace"), now)
    return outcome(status, [(where, reason)], code)


def _shape_problem(body: Any, expect: set[str], path_id: str | None,
                   max_entries: int) -> tuple[str, str, str] | None:
    """(where, reason, issue code) when the body is not one of `expect` as sent, else None."""
    kind = body.get("resourceType") if isinstance(body, dict) else None
    if kind not in expect:
        got = kind if isinstance(body, dict) else f"a JSON {type(body).__name__}"
        return ("resourceType", f"expected {' or '.join(sorted(expect))}, got {got!r}",
                "not-supported")
    if path_id is not None and body.get("id") != path_id:
        return ("id", f"the body's id {body.get('id')!r} differs from the URL's {path_id!r}",
                "invalid")
    entries = body.get("entry") if kind == "Bundle" else None
    if entries is not None and not isinstance(entries, list):
        return "Bundle.entry", "Bundle.entry is not a list", "structure"
    many = too_many_results(len(entries or []), "Bundle entries", max_entries)
    return ("Bundle.entry", many, "too-costly") if many else None


async def _ingest(request: Request, rt: Runtime, caller_name: str,
                  expect: set[str], path_id: str | None = None) -> JSONResponse:
    raw = await read_body(request, MAX_RESULTS_BYTES)
    feed, now = f"fhir:{caller_name}", datetime.now(UTC)
    if isinstance(raw, TooLarge):
        refuse_oversize(rt, feed, "fhir", raw, now)
        return outcome(413, [("body", raw.reason)], "too-long")
    try:
        body: Any = load_json(raw)
    except NotUsableJson as error:
        return _refuse(rt, feed, "body", str(error), raw, now)
    problem = _shape_problem(body, expect, path_id, rt.pipeline.max_results)
    if problem is not None:
        where, reason, code = problem
        return _refuse(rt, feed, where, reason, raw, now,
                       422 if code == "too-costly" else 400, code)
    kind = body["resourceType"]
    items = screen(canonical_patients(parse_fhir_resource(
        body, position=kind, tz=rt.pipeline.tz, suspect_comments=rt.pipeline.suspect_comments,
        terms=rt.pipeline.terms),
        rt.pipeline.authorities), now, "fhir")
    with rt.uow() as uow:  # a Patient that contradicts what is known is refused here
        [items] = resolve_payloads(uow.session, [items])
    rejects = [i for i in items if isinstance(i, Reject)]
    # A code seen and not used is counted, never a reason to accept what was refused.
    usable = [i for i in items if not isinstance(i, Reject | UnmappedCode)]
    atomic = kind != "Bundle" or body.get("type") == "transaction"
    if rejects and (atomic or not usable):
        with rt.uow() as uow:
            reject_payload(uow, feed, "fhir", kind, "; ".join(r.reason for r in rejects),
                           raw.decode("utf-8", errors="replace"), now)
        return outcome(422, [(r.position, r.reason) for r in rejects], "processing")
    with rt.uow() as uow:
        uow.on_commit(rt.dispatcher.process)
        receive(uow, "fhir", feed, raw, now, items=items)
    if kind != "Bundle":
        return JSONResponse(body, status_code=201 if path_id is None else 200,
                            media_type=FHIR_JSON)
    return JSONResponse(_bundle_response(body, rejects), media_type=FHIR_JSON)


def _bundle_response(bundle: dict[str, Any], rejects: list[Reject]) -> dict[str, Any]:
    failed = {r.position.split(":")[0] for r in rejects}
    kind = "transaction-response" if bundle.get("type") == "transaction" else "batch-response"
    entries = []
    for index, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        resource = resource if isinstance(resource, dict) else {}
        label = f"{resource.get('resourceType', '?')}/{resource.get('id', index)}"
        status = "422 Unprocessable Entity" if any(label in f for f in failed) else "201 Created"
        entries.append({"response": {"status": status, "location": label}})
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


@router.post("/Observation")
async def post_observation(request: Request, rt: RuntimeDep, caller: FeedDep) -> JSONResponse:
    """Create an Observation (a lab result)."""
    return await _ingest(request, rt, caller.name, {"Observation"})


@router.put("/Observation/{observation_id}")
async def put_observation(observation_id: str, request: Request, rt: RuntimeDep,
                          caller: FeedDep) -> JSONResponse:
    """Update an Observation: corrections and cancellations."""
    return await _ingest(request, rt, caller.name, {"Observation"}, observation_id)


@router.post("/Condition")
async def post_condition(request: Request, rt: RuntimeDep, caller: FeedDep) -> JSONResponse:
    """Create a Condition (a diagnosis that may raise the patient's risk)."""
    return await _ingest(request, rt, caller.name, {"Condition"})


@router.put("/Condition/{condition_id}")
async def put_condition(condition_id: str, request: Request, rt: RuntimeDep,
                        caller: FeedDep) -> JSONResponse:
    """Update a Condition: its clinical status (resolved at discharge), abatement date, or
    a verification status that refutes it."""
    return await _ingest(request, rt, caller.name, {"Condition"}, condition_id)


@router.post("/MedicationRequest")
async def post_medication_request(request: Request, rt: RuntimeDep,
                                  caller: FeedDep) -> JSONResponse:
    """Create a MedicationRequest (an order: hypertonic saline, a vaptan, ...)."""
    return await _ingest(request, rt, caller.name, {"MedicationRequest"})


@router.put("/MedicationRequest/{request_id}")
async def put_medication_request(request_id: str, request: Request, rt: RuntimeDep,
                                 caller: FeedDep) -> JSONResponse:
    """Update a MedicationRequest: its status (cancelled, stopped) replaces the earlier."""
    return await _ingest(request, rt, caller.name, {"MedicationRequest"}, request_id)


@router.post("/MedicationAdministration")
async def post_medication_administration(request: Request, rt: RuntimeDep,
                                         caller: FeedDep) -> JSONResponse:
    """Create a MedicationAdministration (a dose given)."""
    return await _ingest(request, rt, caller.name, {"MedicationAdministration"})


@router.put("/MedicationAdministration/{administration_id}")
async def put_medication_administration(administration_id: str, request: Request,
                                        rt: RuntimeDep, caller: FeedDep) -> JSONResponse:
    """Update a MedicationAdministration (not-done, entered-in-error)."""
    return await _ingest(request, rt, caller.name, {"MedicationAdministration"},
                         administration_id)


@router.post("/Patient")
async def post_patient(request: Request, rt: RuntimeDep, caller: FeedDep) -> JSONResponse:
    """A Patient: links its logical id to its identifier (MRN), so that Observations and
    Conditions referring to "Patient/{id}", before or after, are that patient's."""
    return await _ingest(request, rt, caller.name, {"Patient"})


@router.put("/Patient/{patient_id}")
async def put_patient(patient_id: str, request: Request, rt: RuntimeDep,
                      caller: FeedDep) -> JSONResponse:
    """Update a Patient (its name, birth date, sex; its id stays linked to its identifier)."""
    return await _ingest(request, rt, caller.name, {"Patient"}, patient_id)


@router.post("")
async def post_bundle(request: Request, rt: RuntimeDep, caller: FeedDep) -> JSONResponse:
    """A batch or transaction Bundle."""
    return await _ingest(request, rt, caller.name, {"Bundle"})


@router.get("/metadata")
def metadata() -> JSONResponse:
    """The CapabilityStatement: what this server accepts, and the alerts it serves."""
    resources = [{"type": t, "interaction": [{"code": "create"}, {"code": "update"}]}
                 for t in ("Observation", "Condition", "Patient", "MedicationRequest",
                           "MedicationAdministration")] + CAPABILITY
    return JSONResponse({
        "resourceType": "CapabilityStatement", "status": "active", "kind": "instance",
        "fhirVersion": "4.0.1", "format": ["json"], "date": "2026-11-26",
        "rest": [{"mode": "server", "resource": resources,
                  "interaction": [{"code": "batch"}, {"code": "transaction"}]}],
    }, media_type=FHIR_JSON)
