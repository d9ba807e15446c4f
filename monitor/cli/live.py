"""Commands on the live database: import, rejects, alerts, tokens."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import typer

from monitor.cli.common import feed_files, group, local_time, progress, settings_or_exit
from monitor.services.access.roles import ROLES
from monitor.services.alerting.states import STATES

rejects_app = group("Rejected inputs: list, retry.")
alerts_app = group("Alerts in the live database.")
tokens_app = group("API bearer tokens (stored hashed).")


def import_files(files: list[Path] = typer.Argument(..., metavar="FILE...", help=(
                     "Files in arrival order; a FHIR Bulk Data export folder or its "
                     "manifest.json imports the files it lists, the Patient files first.")),
                 fmt: str = typer.Option("auto", "--format", help="auto|hl7|fhir|csv"),
                 lines: int = typer.Option(500, "--lines-per-payload", min=1, help=(
                     "CSV rows or NDJSON lines per inbox row (a live feed's message)")),
                 wait: float = typer.Option(120.0, help="with workers: seconds to wait for "
                                            "them before counting results and alerts "
                                            "(0: count what is stored now)")) -> None:
    """Backfill recorded feeds through the inbox -> worker path (never pages anyone).
    Ends with the payloads stored, results, rejects and alerts; rejects are listed on
    standard error as replay lists them."""
    from monitor.ingest.detect import detect_format
    from monitor.runtime import Runtime
    from monitor.runtime.drain import run_inbox
    from monitor.services.intake.backfill import chunks, import_outcome, still_pending
    from monitor.services.intake.inbox import reject_payload
    from monitor.services.intake.payload import receive_text
    from monitor.services.intake.pipeline import IMPORT_FEED
    from monitor.services.intake.rejects import rejects_of

    rt = Runtime(settings_or_exit())
    texts = []
    for path in feed_files(files, "import"):
        try:
            texts.append((path, path.read_text(encoding="utf-8", errors="replace")))
        except OSError as error:
            typer.echo(f"sodium-monitor import: cannot read {path}: {error.strerror}", err=True)
            raise typer.Exit(2) from None
    inbox_ids: list[int] = []
    origin: dict[int, str] = {}  # inbox row -> where in which file its payload starts
    refused = 0
    with progress(sum(len(t) for _, t in texts), "import") as bar:
        for path, text in texts:
            try:
                kind = detect_format(path.name, text[:4096]) if fmt == "auto" else fmt
            except ValueError as error:  # a README beside the feeds: refused, not a crash
                with rt.uow() as uow:
                    reject_payload(uow, IMPORT_FEED, "unknown", str(path), str(error),
                                   text[:1024], datetime.now(UTC))
                typer.echo(f"{path}: rejected: {error}", err=True)
                refused += 1
                bar.update(len(text))
                continue
            for where, payload in chunks(kind, text, lines):
                with rt.uow() as uow:
                    if not rt.settings.embedded:
                        uow.on_commit(rt.dispatcher.process)
                    inbox_id = receive_text(uow, kind, IMPORT_FEED, payload, rt.pipeline,
                                            datetime.now(UTC))
                if rt.settings.embedded:  # at once, in this process
                    run_inbox(rt, inbox_id)
                inbox_ids.append(inbox_id)
                origin[inbox_id] = f"{path}, payload from {where}"
                bar.update(len(payload))
    deadline = time.monotonic() + (0 if rt.settings.embedded else wait)
    while time.monotonic() < deadline:
        with rt.uow() as uow:
            if not still_pending(uow, inbox_ids):
                break
        time.sleep(0.5)
    with rt.uow() as uow:
        done = import_outcome(uow, inbox_ids, refused)
        for r in rejects_of(uow, inbox_ids):
            where = origin.get(r.inbox_id or 0, "")
            typer.echo(f"{where} ({r.position}): rejected: {r.reason}", err=True)
    later = (f", {done.pending} still waiting for a worker (`alerts list` shows their "
             "alerts once processed)") if done.pending else ""
    parked = f", {done.failed} parked (see `rejects list`)" if done.failed else ""
    typer.echo(f"import: {done.payloads} payloads stored, {done.results} results, "
               f"{done.rejects} rejected, {done.alerts} alerts{parked}{later}", err=True)


@rejects_app.command("list")
def rejects_list(limit: int = typer.Option(100),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """The latest rejects with their reason."""
    from monitor.runtime import Runtime
    from monitor.services.intake.rejects import list_rejects

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
    from monitor.runtime import Runtime
    from monitor.runtime.drain import run_inbox
    from monitor.services.intake.rejects import retry_reject

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


_TABLE = "{:>6}  {:<12} {:<30} {:<8} {:<9} {:<22} {}"


@alerts_app.command("list")
def alerts_list(patient: str = typer.Option(None, help="patient identifier"),
                state: str = typer.Option("active", help="|".join(STATES)),
                fmt: str = typer.Option("table", "--format", help="table|jsonl")) -> None:
    """Alerts in the live database; the table shows local times (SODIUM_TIMEZONE) with
    their zone; `--format jsonl` has replay's fields (ISO 8601 times with offset)."""
    from monitor.runtime import Runtime
    from monitor.services.alerting.listing import list_alerts

    if state not in STATES:
        typer.echo(f"--state must be one of {', '.join(STATES)}", err=True)
        raise typer.Exit(2)
    settings = settings_or_exit()
    rt, zone = Runtime(settings), settings.zone
    with rt.uow() as uow:
        if fmt != "jsonl":
            typer.echo(_TABLE.format("ALERT", "PATIENT", "RULE", "SEVERITY", "STATE",
                                     "TRIGGERED", "SODIUM"))
        for a in list_alerts(uow, patient, state, result_key=fmt == "jsonl"):
            if fmt == "jsonl":
                typer.echo(json.dumps(a))
                continue
            # An overdue alert is about a missing sample: it has no value of its own.
            value = "" if a["value_mmol_l"] is None else f"Na {a['value_mmol_l']:g}"
            rise = "" if a["rise_mmol_l"] is None else f" rise {a['rise_mmol_l']:g}"
            triggered = local_time(datetime.fromisoformat(a["triggered_at"]), zone)
            typer.echo(_TABLE.format(a["alert_id"], a["patient_id"], a["rule"],
                                     a["severity"], a["state"], triggered, value + rise))


@tokens_app.command("create")
def tokens_create(name: str = typer.Option(..., help="who holds it, e.g. LIS"),
                  role: str = typer.Option("feed", help="|".join(ROLES))) -> None:
    """Create a token and print it alone on standard output; only its hash is stored."""
    from monitor.runtime import Runtime
    from monitor.services.access.tokens import create_token

    rt = Runtime(settings_or_exit())
    with rt.uow() as uow:
        try:
            token = create_token(uow, name, role, datetime.now(UTC))
        except ValueError as error:
            typer.echo(f"sodium-monitor tokens create: {error}", err=True)
            raise typer.Exit(2) from None
    typer.echo(token)
