"""The web app. For now: liveness, readiness and a plain page of the demo's alerts."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import text

from monitor.config import Settings
from monitor.storage.db import make_engine


def create_app(settings: Settings, alerts: Callable[[], list[dict[str, Any]]] | None = None
               ) -> FastAPI:
    app = FastAPI(title="sodium-monitor", version="0.1.0")
    engine = make_engine(settings.database_url)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Readiness: the database answers."""
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:  # readiness reports any failure, it never raises
            return JSONResponse({"database": f"down: {type(error).__name__}"}, status_code=503)
        return JSONResponse({"database": "ok"})

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        rows = "".join(
            f"<tr><td>{html.escape(a['patient_id'])}</td><td>{a['rule']}</td>"
            f"<td>{a['severity']}</td><td>{a['state']}</td><td>{a['triggered_at']}</td>"
            f"<td>{html.escape(a['message'])}</td></tr>"
            for a in (alerts() if alerts else [])
        )
        return (
            "<!doctype html><html lang=en><meta charset=utf-8><title>sodium-monitor</title>"
            "<h1>sodium-monitor</h1><table><thead><tr><th>Patient</th><th>Rule</th>"
            "<th>Severity</th><th>State</th><th>Triggered</th><th>Message</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></html>"
        )

    return app
