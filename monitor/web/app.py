"""The web app: ingest (FHIR, JSON, HL7 over HTTP), the dashboard pages and their JSON API,
live events, health and readiness. Every asset is served by the app itself."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from monitor.runtime import Runtime
from monitor.services.access import Forbidden
from monitor.services.readiness import broker_status, database_status
from monitor.web import api, fhir, ingest, live, pages
from monitor.web.security import NotSignedIn

STATIC = Path(__file__).parent / "static"


def create_app(rt: Runtime) -> FastAPI:
    app = FastAPI(title="sodium-monitor", version="0.1.0",
                  description="Lab-feed ingest and alerts for too-fast sodium correction.")
    app.state.runtime = rt
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in (fhir.router, ingest.router, api.router, pages.router, live.router):
        app.include_router(router)

    @app.exception_handler(NotSignedIn)
    def not_signed_in(request: Request, _: NotSignedIn) -> Response:
        if request.url.path.startswith(("/api/", "/events")):
            return JSONResponse({"detail": "sign in or send a bearer token"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @app.exception_handler(Forbidden)
    def forbidden(request: Request, error: Forbidden) -> Response:
        return JSONResponse({"detail": str(error)}, status_code=403)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        """Readiness: the database and the broker, reported separately."""
        report = {"database": database_status(rt), "broker": broker_status(rt)}
        ok = all(v in ("ok", "in-process") for v in report.values())
        return JSONResponse(report, status_code=200 if ok else 503)

    return app
