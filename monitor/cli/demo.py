"""`sodium-monitor demo`: the whole service in one process on the embedded default.

SQLite, tasks and the scheduler in-process, the MLLP listener and the web app. The demo
ward's recorded feed is loaded through the same inbox path a live feed takes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from importlib import resources

import typer
import uvicorn

from monitor.cli.common import settings_or_exit
from monitor.listener.service import serve as serve_mllp
from monitor.runtime import Runtime
from monitor.scheduling.scheduler import background
from monitor.services.backfill import chunks
from monitor.services.dispatch import run_inbox
from monitor.services.intake import receive_text
from monitor.storage.migrate import upgrade
from monitor.web.app import create_app


def _load_demo_ward(rt: Runtime) -> int:
    feed = resources.files("monitor.demo").joinpath("ward.hl7").read_text()
    count = 0
    for _, message in chunks("hl7", feed):
        with rt.uow() as uow:
            inbox_id = receive_text(uow, "hl7", "hl7:DEMO-LIS", message, rt.pipeline,
                                    datetime.now(UTC))
        run_inbox(rt, inbox_id)
        count += 1
    return count


async def _run(rt: Runtime, host: str, port: int, mllp_host: str, mllp_port: int) -> None:
    config = uvicorn.Config(create_app(rt), host=host, port=port, log_level="info")
    server = uvicorn.Server(config)
    stop = asyncio.Event()
    listener = asyncio.create_task(serve_mllp(rt, mllp_host, mllp_port, stop))
    try:
        await server.serve()
    finally:
        stop.set()
        await listener


def demo(
    host: str = typer.Option(None, help="[default: SODIUM_API_HOST]"),
    port: int = typer.Option(None, help="[default: SODIUM_API_PORT]"),
    mllp_port: int = typer.Option(None, help="[default: SODIUM_MLLP_PORT]"),
) -> None:
    """Migrate the embedded database, load the demo ward and serve web app and listener."""
    settings = settings_or_exit()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    upgrade(settings.database_url)
    rt = Runtime(settings)
    loaded = _load_demo_ward(rt)
    host, port = host or settings.api_host, port or settings.api_port
    mllp_port = mllp_port or settings.mllp_port
    typer.echo(f"sodium-monitor demo: {loaded} demo messages loaded into "
               f"{settings.database_url}\n  web app:       http://{host}:{port}/  "
               f"(health: /healthz, API: /docs)\n  MLLP listener: {settings.mllp_host}:"
               f"{mllp_port}\n  Ctrl-C stops.")
    scheduler = background(rt)
    scheduler.start()
    try:
        asyncio.run(_run(rt, host, port, settings.mllp_host, mllp_port))
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown(wait=False)
