"""Ingest for feeds that speak neither FHIR nor MLLP: JSON results, HL7 over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from monitor.ingest import build_ack
from monitor.ingest.authorities import canonical_patients
from monitor.ingest.events import Reject
from monitor.ingest.json_bounds import NotUsableJson, load_json
from monitor.ingest.json_feed import parse_json_results
from monitor.runtime import Runtime
from monitor.services.intake.hl7 import receive_hl7
from monitor.services.intake.inbox import receive, reject_payload, screen
from monitor.services.intake.limits import too_many_results
from monitor.web.body import MAX_HL7_BYTES, MAX_RESULTS_BYTES, TooLarge, read_body
from monitor.web.deps import FeedDep, RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["ingest"])


class ResultIn(BaseModel):
    """One result; the same columns as a CSV backfill."""

    patient_id: str = Field(min_length=1)
    patient_authority: str = ""
    collected_at: str = Field(description="ISO 8601; without offset read in SODIUM_TIMEZONE")
    sodium: float | str = Field(description="the value (mmol/L unless `unit` says mEq/L)")
    result_id: str | None = None
    status: str | None = Field(None, description="final, preliminary, corrected, amended, "
                               "cancelled, entered-in-error")
    unit: str | None = None
    analyte: str | None = Field(None, description="sodium, potassium, urine-sodium")
    specimen: str | None = None
    risk_factors: str | None = None


class Accepted(BaseModel):
    inbox_id: int
    accepted: int
    rejected: list[dict[str, str]]


# The body is documented as a list of ResultIn but validated by the JSON adapter, row by
# row: a bad row is listed as rejected (and stored in rejects), never a reason to refuse
# the good rows sent with it, as FastAPI's validation of the whole list would.
_RESULTS_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "array", "items": ResultIn.model_json_schema()}}}}}


def refuse_oversize(rt: Runtime, feed: str, kind: str, big: TooLarge, now: datetime) -> None:
    """An oversized body is refused with 413 and kept (its head) as a reject."""
    with rt.uow() as uow:
        reject_payload(uow, feed, kind, "body", big.reason, big.head, now)


def refuse_body(rt: Runtime, feed: str, kind: str, reason: str, text: str, now: datetime,
                status: int, **more: Any) -> JSONResponse:
    """A body refused whole: its reason to the sender, the body kept as a reject."""
    with rt.uow() as uow:
        reject_payload(uow, feed, kind, "body", reason, text, now)
    return JSONResponse({"detail": reason, **more}, status)


@router.post("/results", status_code=202, response_model=Accepted, openapi_extra=_RESULTS_BODY,
             responses={400: {"description": "not JSON, or nested too deep"},
                        413: {"description": "body over 1 MiB"},
                        422: {"description": "no usable result, or too many rows"}})
async def post_results(request: Request, rt: RuntimeDep, caller: FeedDep) -> JSONResponse:
    """A JSON list of results (at most 1 MiB and SODIUM_MAX_RESULTS_PER_MESSAGE rows),
    committed to the inbox before the 202."""
    raw = await read_body(request, MAX_RESULTS_BYTES)
    feed, now = f"json:{caller.name}", datetime.now(UTC)
    if isinstance(raw, TooLarge):
        refuse_oversize(rt, feed, "json", raw, now)
        return JSONResponse({"detail": raw.reason, "limit_bytes": MAX_RESULTS_BYTES}, 413)
    text = raw.decode("utf-8", errors="replace")
    try:
        rows = load_json(text)
    except NotUsableJson as error:
        return refuse_body(rt, feed, "json", str(error), text, now, 400)
    if isinstance(rows, list) and (many := too_many_results(
            len(rows), "rows", rt.pipeline.max_results)):
        return refuse_body(rt, feed, "json", many, text, now, 422)
    items = screen(canonical_patients(parse_json_results(text, source="body", tz=rt.pipeline.tz),
                                      rt.pipeline.authorities), now, "json")
    rejects = [i for i in items if isinstance(i, Reject)]
    problems = [{"position": r.position, "reason": r.reason} for r in rejects]
    if len(rejects) == len(items):
        return refuse_body(rt, feed, "json", "no usable result", text, now, 422,
                           rejected=problems)
    with rt.uow() as uow:
        uow.on_commit(rt.dispatcher.process)
        inbox_id = receive(uow, "json", feed, raw, now, items=items)
    return JSONResponse({"inbox_id": inbox_id, "accepted": len(items) - len(rejects),
                         "rejected": problems}, 202)


@router.post("/hl7", response_class=Response,
             responses={200: {"content": {"x-application/hl7-v2+er7": {}}},
                        413: {"description": "message over 1 MiB: an AR acknowledgement"}})
async def post_hl7(request: Request, rt: RuntimeDep, caller: FeedDep) -> Response:
    """One raw HL7 v2 message (at most 1 MiB, as over MLLP); the reply body is the same ACK
    the MLLP listener sends."""
    raw = await read_body(request, MAX_HL7_BYTES)
    feed, now = f"hl7:{caller.name}", datetime.now(UTC)
    if isinstance(raw, TooLarge):
        refuse_oversize(rt, feed, "hl7", raw, now)
        return Response(build_ack(raw.head, "AR", raw.reason), 413,
                        media_type="x-application/hl7-v2+er7")
    text = raw.decode("utf-8", errors="replace")
    uow = rt.uow()
    uow.on_commit(rt.dispatcher.process)
    reply = receive_hl7(uow, text, feed, rt.pipeline, now)
    return Response(reply.ack, media_type="x-application/hl7-v2+er7")
