"""The web app: ingest (FHIR, JSON, HL7 over HTTP), the dashboard pages and their JSON API,
live events, health and readiness. Every asset is served by the app itself."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from monitor.logs import request_id
from monitor.runtime import Runtime
from monitor.runtime.readiness import broker_status, database_status
from monitor.services.access.audit import record_denial
from monitor.services.access.scope import Forbidden, require
from monitor.web import (
    admin_pages,
    api,
    cds_hooks,
    fhir,
    fhir_read,
    ingest,
    live,
    pages,
    smart,
)
from monitor.web.body import RefuseNul
from monitor.web.metrics import StoreCollector
from monitor.web.security import CallerDep, NotSignedIn, hardening_headers
from monitor.web.templating import templates

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def swagger_ui_files() -> str:
    """The Swagger UI 5 files that the fastapi-offline package ships (we use its files, not
    its code): Swagger UI 4 refused FastAPI's OpenAPI 3.1 ("Unable to render this
    definition"), and no CDN is reachable inside a hospital."""
    spec = find_spec("fastapi_offline")
    assert spec is not None and spec.submodule_search_locations, "fastapi-offline missing"
    return str(Path(next(iter(spec.submodule_search_locations))) / "static")


DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>sodium-monitor API</title>
<link rel="stylesheet" href="/static/swagger/swagger-ui.css">
<link rel="icon" href="/static/swagger/favicon.png"></head>
<body><div id="swagger-ui"></div>
<script src="/static/swagger/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script></body></html>
"""


# Machine clients get JSON refusals; a browser on a page gets a page (issue 14, item 7).
MACHINE_PATHS = ("/api/", "/fhir", "/cds-services", "/events", "/metrics", "/openapi.json",
                 "/healthz", "/readyz", "/static/")


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith(MACHINE_PATHS) and \
        "text/html" in request.headers.get("accept", "")


def refusal_page(request: Request, status: int, detail: str) -> Response:
    heading = {403: "Not allowed", 404: "Not found"}.get(status, "Refused")
    return templates.TemplateResponse(request, "error.html", {
        "who": None, "heading": heading, "detail": detail,
        "actor": getattr(request.state, "actor", None)}, status_code=status)


def create_app(rt: Runtime) -> FastAPI:
    # The API docs use Swagger UI's files from a package, served here (swagger_ui_files).
    app = FastAPI(title="sodium-monitor", version="0.1.0", docs_url=None, redoc_url=None,
                  description="Lab-feed ingest and alerts for too-fast sodium correction.")
    app.state.runtime = rt
    app.add_middleware(RefuseNul)
    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_files()), name="swagger")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        """Swagger UI, started by a static script (no inline script under the CSP)."""
        return HTMLResponse(DOCS_PAGE)
    for router in (fhir.router, fhir_read.router, cds_hooks.router, ingest.router, api.router,
                   pages.router, admin_pages.router, live.router, smart.router):
        app.include_router(router)

    @app.exception_handler(NotSignedIn)
    def not_signed_in(request: Request, _: NotSignedIn) -> Response:
        request.state.denied = "not signed in"  # a page answers with the login redirect
        if request.url.path.startswith(("/api/", "/fhir/", "/events", "/metrics")):
            return JSONResponse({"detail": "sign in or send a bearer token"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @app.exception_handler(Forbidden)
    def forbidden(request: Request, error: Forbidden) -> Response:
        if wants_html(request):
            return refusal_page(request, 403, f"Not allowed: {error}.")
        return JSONResponse({"detail": str(error)}, status_code=403)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code in (403, 404) and wants_html(request):
            detail = str(error.detail)
            if error.status_code == 404:
                # A ward, patient or alert outside the user's wards reads as missing: which
                # exist elsewhere is not told. The router's own 404 is a wrong address.
                where = "the patient this launch from the EHR opened" if getattr(
                    request.state, "launched", False) else "on one of your wards"
                detail = "There is no such page." if detail == "Not Found" else \
                    f"{detail[:1].upper()}{detail[1:]}, or it is not {where}."
            return refusal_page(request, error.status_code, detail)
        return await http_exception_handler(request, error)

    @app.middleware("http")
    async def audit_denials(request: Request, call_next: Any) -> Response:
        """Every access denial is audited: 401 and 403 answers, and a page's redirect to
        the login (sign-in failures at /login are audited by the sign-in itself)."""
        reply: Response = await call_next(request)
        denied = getattr(request.state, "denied", None) or (
            "refused" if reply.status_code in (401, 403) else None)
        if denied and request.url.path != "/login":
            actor = getattr(request.state, "actor", None) or "anonymous"
            address = request.client.host if request.client else None
            try:
                await run_in_threadpool(lambda: record_denial(
                    rt.uow(), actor, request.method, request.url.path, reply.status_code,
                    address, datetime.now(UTC)))
            except Exception:  # the refusal stands; only its audit row is missing
                log.exception("access denial not audited")
        return reply

    @app.middleware("http")
    async def harden(request: Request, call_next: Any) -> Response:
        reply: Response = await call_next(request)
        hardening_headers(request.url.path, reply.headers)
        return reply

    @app.middleware("http")
    async def tag_request(request: Request, call_next: Any) -> Response:
        """Every log line of a request carries its id (X-Request-ID, or a new one)."""
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
        token = request_id.set(rid)
        try:
            reply: Response = await call_next(request)
        finally:
            request_id.reset(token)
        reply.headers["X-Request-ID"] = rid
        return reply

    registry = CollectorRegistry()
    registry.register(StoreCollector(rt))

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    def metrics(c: CallerDep) -> PlainTextResponse:
        """Prometheus metrics (an admin bearer token; see docs/operations.md)."""
        require(c.who, "admin")
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        """Readiness: the database and the broker, reported separately."""
        report = {"database": database_status(rt), "broker": broker_status(rt)}
        ok = all(v in ("ok", "in-process", "unchecked") for v in report.values())
        return JSONResponse(report, status_code=200 if ok else 503)

    return app
