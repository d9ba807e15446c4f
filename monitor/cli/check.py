"""`sodium-monitor check`: a probe for monitoring systems."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer

from monitor.cli.common import settings_or_exit


def check_command(as_json: bool = typer.Option(False, "--json")) -> None:
    """Database, migrations at head, broker, scheduler heartbeat, feeds' liveness.
    Exit 0 OK, 1 WARNING, 2 CRITICAL."""
    from monitor.runtime import Runtime
    from monitor.runtime.health import NAMES, check

    findings = check(Runtime(settings_or_exit()), datetime.now(UTC))
    worst = max(f.level for f in findings)
    if as_json:
        typer.echo(json.dumps({"status": NAMES[worst], "checks": [
            {"name": f.name, "status": NAMES[f.level], "detail": f.detail} for f in findings]}))
    else:
        for f in findings:
            typer.echo(f"{NAMES[f.level]:<8} {f.name:<11} {f.detail}")
        typer.echo(f"sodium-monitor {NAMES[worst]}")
    raise typer.Exit(worst)
