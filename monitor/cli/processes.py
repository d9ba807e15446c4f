"""The long-running processes: api, mllp, worker, scheduler. Each reads the same settings."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
from contextlib import suppress

import typer

from monitor.cli.common import settings_or_exit


def _logging(fmt: str) -> None:
    from monitor.logs import configure

    configure(fmt, logging.INFO)


def api(host: str = typer.Option(None, help="[default: SODIUM_API_HOST, 127.0.0.1]"),
        port: int = typer.Option(None, help="[default: SODIUM_API_PORT, 8000]")) -> None:
    """The web app (FastAPI on uvicorn): ingest, readiness, OpenAPI at /docs."""
    import uvicorn

    from monitor.runtime import Runtime
    from monitor.web.app import create_app

    settings = settings_or_exit().serving_at(host, port)
    _logging(settings.log_format)
    uvicorn.run(create_app(Runtime(settings)), host=settings.api_host,
                port=settings.api_port, log_config=None)


def mllp(host: str = typer.Option(None, help="[default: SODIUM_MLLP_HOST, 127.0.0.1]"),
         port: int = typer.Option(None, help="[default: SODIUM_MLLP_PORT, 2575]"),
         insecure: bool = typer.Option(False, "--insecure", help=(
             "listen on a non-loopback address without client certificates or "
             "allow-listed feeds [default: SODIUM_MLLP_INSECURE]"))) -> None:
    """The HL7 v2 MLLP listener: commits each message to the inbox, then acknowledges."""
    from monitor.listener.service import InsecureBind, serve
    from monitor.runtime import Runtime

    settings = settings_or_exit()
    _logging(settings.log_format)
    try:
        with suppress(KeyboardInterrupt):
            asyncio.run(serve(Runtime(settings), host or settings.mllp_host,
                              port or settings.mllp_port, insecure=insecure))
    except (InsecureBind, ValueError) as error:
        typer.echo(f"sodium-monitor mllp: {error}", err=True)
        raise typer.Exit(2) from None


def worker(concurrency: int = typer.Option(2, help="worker processes (threads with "
                                             "--pool threads)"),
           queues: str = typer.Option(
               "", help="comma-separated queues to consume: 'celery' (results) and/or "
               "'deliveries' (notifications) [default: both]. Give each its own workers in "
               "production, so a hanging notification channel never delays a result"),
           pool: str = typer.Option("prefork", help="prefork (processes) or threads "
                                    "(enough for the deliveries queue: it waits on I/O)"),
           loglevel: str = typer.Option("INFO")) -> None:
    """A Celery worker on SODIUM_BROKER_URL (runs `celery -A workers.celery_app worker`)."""
    from monitor.runtime.dispatchers import QUEUES

    settings = settings_or_exit()
    if settings.embedded:
        typer.echo("sodium-monitor worker: SODIUM_BROKER_URL is empty (embedded mode runs "
                   "tasks in-process; set redis://... to use workers)", err=True)
        raise typer.Exit(2)
    chosen = [q.strip() for q in queues.split(",") if q.strip()] or list(QUEUES)
    unknown = sorted(set(chosen) - set(QUEUES))
    if unknown or pool not in ("prefork", "threads"):
        typer.echo(f"sodium-monitor worker: unknown queue {', '.join(unknown)} (known: "
                   f"{', '.join(QUEUES)})" if unknown else
                   f"sodium-monitor worker: unknown pool {pool!r} (prefork or threads)",
                   err=True)
        raise typer.Exit(2)
    celery = shutil.which("celery", path=os.path.dirname(sys.executable)) or "celery"
    os.execv(celery, [celery, "-A", "workers.celery_app", "worker", "--concurrency",
                      str(concurrency), "--queues", ",".join(chosen), "--pool", pool,
                      "--loglevel", loglevel])


def scheduler() -> None:
    """The timed jobs (APScheduler): inbox sweeper, heartbeat. Safe to run twice."""
    from monitor.runtime import Runtime
    from monitor.scheduling.scheduler import blocking

    settings = settings_or_exit()
    _logging(settings.log_format)
    with suppress(KeyboardInterrupt):
        blocking(Runtime(settings)).start()
