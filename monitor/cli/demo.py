"""`sodium-monitor demo`: the service on its embedded default (SQLite, tasks in-process)."""

from __future__ import annotations

from importlib import resources

import typer
import uvicorn

from monitor.cli.common import settings_or_exit
from monitor.engine.policy import load_policy
from monitor.services.replay import Replay, parse_input
from monitor.storage.migrate import upgrade
from monitor.web.app import create_app


def demo(
    host: str = typer.Option(None, help="[default: SODIUM_API_HOST]"),
    port: int = typer.Option(None, help="[default: SODIUM_API_PORT]"),
) -> None:
    """Migrate the embedded database, replay the demo ward and serve the web app."""
    settings = settings_or_exit()
    upgrade(settings.database_url)
    run = Replay(load_policy(settings.policy))
    feed = resources.files("monitor.demo").joinpath("ward.hl7").read_text()
    for item in parse_input("demo/ward.hl7", feed, "hl7", settings.zone):
        run.apply(item)
    alerts = list(run.alerts())
    url = f"http://{host or settings.api_host}:{port or settings.api_port}"
    typer.echo(f"sodium-monitor demo: {len(alerts)} alerts from the demo ward; open {url}/")
    app = create_app(settings, alerts=lambda: alerts)
    uvicorn.run(app, host=host or settings.api_host, port=port or settings.api_port,
                log_level="info")
