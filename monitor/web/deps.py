"""FastAPI dependencies as Annotated aliases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from monitor.runtime import Runtime
from monitor.services.access.tokens import Caller, caller_for

_bearer = HTTPBearer(auto_error=False)


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def feed_caller(rt: RuntimeDep, credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                        Depends(_bearer)]) -> Caller:
    """Every ingest route needs a feed token (bearer)."""
    if credentials is None:
        raise HTTPException(401, "a feed token is required (Authorization: Bearer ...)",
                            headers={"WWW-Authenticate": "Bearer"})
    with rt.uow() as uow:
        caller = caller_for(uow, credentials.credentials, datetime.now(UTC))
    if caller is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    if caller.role not in ("feed", "admin"):
        raise HTTPException(403, "this token may not send results")
    return caller


FeedDep = Annotated[Caller, Depends(feed_caller)]


# The id columns are PostgreSQL integers: a larger path id names no row, and would make the
# driver raise (a 500) rather than find nothing.
MAX_ROW_ID = 2**31 - 1


def row_id(value: int, what: str) -> int:
    """`value` if an id column can hold it, else the 404 an unknown id gets."""
    if not 1 <= value <= MAX_ROW_ID:
        raise HTTPException(404, f"no such {what}")
    return value


def _patient_id(patient_id: Annotated[int, Path()]) -> int:
    return row_id(patient_id, "patient")


def _alert_id(alert_id: Annotated[int, Path()]) -> int:
    return row_id(alert_id, "alert")


def _reject_id(reject_id: Annotated[int, Path()]) -> int:
    return row_id(reject_id, "reject")


def _risk_id(risk_id: Annotated[int, Path()]) -> int:
    return row_id(risk_id, "risk factor")


PatientId = Annotated[int, Depends(_patient_id)]
AlertId = Annotated[int, Depends(_alert_id)]
RejectId = Annotated[int, Depends(_reject_id)]
RiskId = Annotated[int, Depends(_risk_id)]
