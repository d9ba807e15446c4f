"""Commands on the live database: import, rejects, alerts, tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from tqdm import tqdm

from monitor.cli.common import settings_or_exit
from monitor.ingest import detect_format
from monitor.runtime import Runtime
from monitor.runtime.drain import run_inbox
from monitor.services.access.tokens import ROLES, create_token
from monitor.services.alerting.listing import STATES, list_alerts
from monitor.services.intake.backfill import chunks
from monitor.services.intake.payload import receive_text
from monitor.services.intake.pipeline import IMPORT_FEED
from monitor.services.intake.rejects import list_rejects, retry_reject

rejects_app = typer.Typer(help="Rejected inputs: list, retry.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts in the live database.", no_args_is_help=True)
tokens_app = typer.Typer(help="API bearer tokens (stored hashed).", no_args_is_help=True)


def import_files(files: list[Path] = typer.Argument(..., metavar="FILE..."),
                 fmt: str = typer.Option("auto", "--format", help="auto|hl7|fhir|csv")) -> None:
    """Backfill recorded feeds through the inbox -> worker path (never pages anyone)."""
    rt = Runtime(settings_or_exit())
    texts = []
    for path in files:
        try:
            texts.append((path, path.read_text(encoding="utf-8", errors="replace")))
        except OSError as error:
            typer.echo(f"sodium-monitor import: cannot read {path}: {error.strerror}", err=True)
            raise typer.Exit(2) from None
    stored = 0
    with tqdm(total=sum(len(t) for _, t in texts), unit="B", unit_scale=True,
              desc="import", disable=None) as bar:
        for path, text in texts:
            kind = detect_format(path.name, text[:4096]) if fmt == "auto" else fmt
            for _, payload in chunks(kind, text):
                with rt.uow() as uow:
                    if not rt.settings.embedded:
                        uow.on_commit(rt.dispatcher.process)
                    inbox_id = receive_text(uow, kind, IMPORT_FEED, payload, rt.pipeline,
                                            datetime.now(UTC))
                if rt.settings.embedded:  # at once, in this process
                    run_inbox(rt, inbox_id)
                stored += 1
                bar.update(len(payload))
    typer.echo(f"import: {stored} payloads stored", err=True)


@rejects_app.command("list")
def rejects_list(limit: int = typer.Option(100),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """The latest rejects with their reason."""
    rt = Runtime(settings_or_exit())
    with rt.uow() as uow:
        for r in list_rejects(uow, limit):
            if as_json:
                typer.echo(json.dumps(r))
            else:
                retried = f"  (retried {r['retried_at']})" if r["retried_at"] else ""
                typer.echo(f"{r['id']:>6}  {r['created_at'][:19]}  {r['source']}  "
                           f"{r['position']}: {r['reason']}{retried}")


@rejects_app.command("retry")
def rejects_retry(reject_id: int) -> None:
    """Run a rejected payload through ingest again (after a mapping or unit fix)."""
    rt = Runtime(settings_or_exit())
    uow = rt.uow()
    if not rt.settings.embedded:
        uow.on_commit(rt.dispatcher.process)
    try:
        result = retry_reject(uow, reject_id, rt.pipeline, datetime.now(UTC))
    except LookupError as error:
        typer.echo(f"sodium-monitor rejects retry: {error}", err=True)
        raise typer.Exit(1) from None
    if result.inbox_id is not None and rt.settings.embedded:  # at once, in this process
        run_inbox(rt, result.inbox_id)
    typer.echo(f"reject {reject_id}: {result.outcome} ({result.detail})")
    raise typer.Exit(0 if result.inbox_id is not None else 1)


@alerts_app.command("list")
def alerts_list(patient: str = typer.Option(None, help="patient identifier"),
                state: str = typer.Option("active", help="|".join(STATES)),
                fmt: str = typer.Option("table", "--format", help="table|jsonl")) -> None:
    """Alerts in the live database; `--format jsonl` has replay's fields."""
    if state not in STATES:
        typer.echo(f"--state must be one of {', '.join(STATES)}", err=True)
        raise typer.Exit(2)
    rt = Runtime(settings_or_exit())
    with rt.uow() as uow:
        for a in list_alerts(uow, patient, state, result_key=fmt == "jsonl"):
            if fmt == "jsonl":
                typer.echo(json.dumps(a))
            else:
                rise = "" if a["rise_mmol_l"] is None else f" rise {a['rise_mmol_l']:g}"
                typer.echo(f"{a['alert_id']:>6}  {a['patient_id']:<12} {a['rule']:<26} "
                           f"{a['severity']:<8} {a['state']:<9} {a['triggered_at'][:16]}  "
                           f"Na {a['value_mmol_l']:g}{rise}")


@tokens_app.command("create")
def tokens_create(name: str = typer.Option(..., help="who holds it, e.g. LIS"),
                  role: str = typer.Option("feed", help="|".join(ROLES))) -> None:
    """Create a token and print it alone on standard output; only its hash is stored."""
    rt = Runtime(settings_or_exit())
    with rt.uow() as uow:
        try:
            token = create_token(uow, name, role, datetime.now(UTC))
        except ValueError as error:
            typer.echo(f"sodium-monitor tokens create: {error}", err=True)
            raise typer.Exit(2) from None
    typer.echo(token)
