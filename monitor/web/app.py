"""The web app: health, readiness, FHIR and JSON/HL7 ingest (dashboards come later)."""

from __future__ import annotations

import html
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from monitor.runtime import Runtime
from monitor.services.alert_view import list_alerts
from monitor.services.readiness import broker_status, database_status
from monitor.web import fhir, ingest


def create_app(rt: Runtime) -> FastAPI:
    app = FastAPI(title="sodium-monitor", version="0.1.0",
                  description="Lab-feed ingest and alerts for too-fast sodium correction.")
    app.state.runtime = rt
    app.include_router(fhir.router)
    app.include_router(ingest.router)

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

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        rows = "".join(
            f"<tr><td>{html.escape(a['patient_id'])}</td><td>{a['rule']}</td>"
            f"<td>{a['severity']}</td><td>{a['state']}</td><td>{a['triggered_at']}</td>"
            f"<td>{html.escape(a['message'])}</td></tr>"
            for a in _active_alerts(rt)
        )
        return (
            "<!doctype html><html lang=en><meta charset=utf-8><title>sodium-monitor</title>"
            "<h1>sodium-monitor</h1><table><thead><tr><th>Patient</th><th>Rule</th>"
            "<th>Severity</th><th>State</th><th>Triggered</th><th>Message</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></html>"
        )

    return app


def _active_alerts(rt: Runtime) -> list[dict[str, Any]]:
    with rt.uow() as uow:
        return list(list_alerts(uow.session))
