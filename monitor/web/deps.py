"""FastAPI dependencies as Annotated aliases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
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
