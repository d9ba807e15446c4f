"""`sodium-monitor demo`: the whole service in one process on the embedded default.

SQLite, tasks and the scheduler in-process, the MLLP listener and the web app, a seeded
demo hospital, and the ward simulator feeding the listener over real MLLP.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from monitor.cli.common import settings_or_exit

if TYPE_CHECKING:
    from monitor.runtime import Runtime
    from monitor.services.operations.console import Console


async def _run(rt: Runtime, host: str, port: int, mllp_host: str, mllp_port: int,
               rate: float) -> None:
    import uvicorn

    from monitor.listener.service import serve as serve_mllp
    from monitor.sim.feed import run_in_background
    from monitor.web.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(rt), host=host, port=port,
                                           log_level="warning"))
    stop = asyncio.Event()
    listener = asyncio.create_task(serve_mllp(rt, mllp_host, mllp_port, stop))
    simulator, stop_simulator = run_in_background(mllp_host, mllp_port, rate)
    try:
        await server.serve()
    finally:
        stop_simulator.set()
        stop.set()
        await listener
        simulator.join(timeout=5)


def demo(
    host: str = typer.Option(None, help="[default: SODIUM_API_HOST]"),
    port: int = typer.Option(None, help="[default: SODIUM_API_PORT]"),
    mllp_port: int = typer.Option(None, help="[default: SODIUM_MLLP_PORT]"),
    speed: float = typer.Option(1.0, help="compress the simulator's live part (2 = twice "
                                "as fast)"),
    rate: float = typer.Option(3.0, help="seconds between live results (before --speed)"),
) -> None:
    """The embedded service with a demo hospital fed live by the ward simulator."""
    from monitor.logs import configure
    from monitor.runtime import Runtime
    from monitor.scheduling.scheduler import background
    from monitor.services.operations.console import Console
    from monitor.services.operations.demo_seed import seed
    from monitor.storage.migrate import upgrade

    settings = settings_or_exit().serving_at(host, port)  # notification links follow
    configure("console", logging.WARNING)
    upgrade(settings.database_url)
    rt = Runtime(settings)
    console = Console(settings.zone)
    with rt.uow() as uow:
        console.start(uow)
    logins = seed(rt.uow(), datetime.now(UTC))
    host, port = settings.api_host, settings.api_port
    mllp_port = mllp_port or settings.mllp_port
    typer.echo(f"sodium-monitor demo on {settings.database_url}")
    typer.echo(f"  open  http://{host}:{port}/   (API docs: /docs)")
    typer.echo(f"  MLLP  {settings.mllp_host}:{mllp_port}  (the ward simulator feeds it)")
    typer.echo("  sign in as:")
    for username, role, password in logins:
        typer.echo(f"    {username:<10} {password:<12} {role}")
    typer.echo("  Ctrl-C stops. Below: one line per alert raised, escalated or acknowledged,"
               " and per reject.")
    scheduler = background(rt)
    scheduler.start()
    stop_console = threading.Event()
    printer = threading.Thread(target=_console, args=(rt, console, stop_console),
                               name="console", daemon=True)
    printer.start()
    try:
        asyncio.run(_run(rt, host, port, settings.mllp_host, mllp_port, rate / max(speed, 0.01)))
    except KeyboardInterrupt:
        pass
    finally:
        stop_console.set()  # the printer shows what was committed up to now, then ends
        printer.join(timeout=5)
        scheduler.shutdown(wait=False)
        typer.echo("sodium-monitor demo stopped.")


def _console(rt: Runtime, console: Console, stop: threading.Event) -> None:
    while True:
        stopping = stop.wait(1.0)
        try:
            with rt.uow() as uow:
                lines = console.lines(uow)
        except Exception as error:  # a busy embedded database: the next second will do
            logging.getLogger(__name__).debug("console: %s", error)
            lines = []
        for line in lines:
            typer.echo(line)
        if stopping:
            return
