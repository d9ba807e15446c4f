"""`sodium-monitor replay`: the stateless contract, also used for retrospective audits."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from monitor.cli.common import feed_files, progress, settings_or_exit

if TYPE_CHECKING:
    from monitor.ingest.events import Reject


class InputFormat(StrEnum):
    auto = "auto"
    hl7 = "hl7"
    fhir = "fhir"
    csv = "csv"


def _read(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        typer.echo(f"sodium-monitor replay: cannot read {name}: {error.strerror}", err=True)
        raise typer.Exit(2) from None


def _reject_line(r: Reject) -> dict[str, str]:
    return {"position": r.position, "reason": r.reason, "payload": r.payload}


def replay(
    inputs: list[str] = typer.Argument(..., metavar="INPUT...", help="Files in arrival "
                                       "order; - reads standard input; a FHIR Bulk Data "
                                       "export folder or its manifest.json reads the files "
                                       "it lists."),
    policy: str = typer.Option(None, help="Profile name or TOML file [default: SODIUM_POLICY]"),
    timezone: str = typer.Option(None, help="For timestamps without offset "
                                 "[default: SODIUM_TIMEZONE]"),
    fmt: InputFormat = typer.Option(InputFormat.auto, "--format"),
    output: Path = typer.Option(None, help="Write the alerts here instead of stdout."),
    rejects: Path = typer.Option(None, help="Write rejected inputs here as JSON Lines."),
) -> None:
    """Replay recorded feeds and print the final alerts as JSON Lines; rejects and the
    counts go to standard error. Exit 0, or 2 for an unreadable file or a bad option."""
    from monitor.engine.policy import PolicyError, load_policy
    from monitor.services.replay.run import replay as run_replay

    settings = settings_or_exit()
    try:
        chosen = load_policy(policy or settings.policy)
        tz = ZoneInfo(timezone or settings.timezone)
    except PolicyError as error:
        typer.echo(f"sodium-monitor replay: {error}", err=True)
        raise typer.Exit(2) from None
    except (ZoneInfoNotFoundError, ValueError):
        typer.echo(f"sodium-monitor replay: unknown time zone {timezone!r}", err=True)
        raise typer.Exit(2) from None
    names = [n for name in inputs for n in (
        ["-"] if name == "-" else [str(p) for p in feed_files([Path(name)], "replay")])]
    texts = [(name if name != "-" else "<stdin>", _read(name)) for name in names]
    with progress(sum(len(t) for _, t in texts), "replay") as bar:
        outcome = run_replay(texts, fmt.value, tz, chosen, progress=bar.update,
                             suspect_comments=settings.suspect_comments,
                             authorities=settings.authority_aliases,
                             icd10_systems=settings.icd10_systems,
                             medication_map=settings.medication_codes)
    for r in outcome.rejects:
        typer.echo(f"{r.position}: rejected: {r.reason}", err=True)
    out: IO[str] = output.open("w", encoding="utf-8") if output else sys.stdout
    with out if output else nullcontext(out):
        for alert in outcome.alerts:
            out.write(json.dumps(alert) + "\n")
        out.flush()
    if rejects:
        with rejects.open("w", encoding="utf-8") as f:
            for r in outcome.rejects:
                f.write(json.dumps(_reject_line(r)) + "\n")
    if outcome.unused:  # what an integration engineer should know the input carries
        typer.echo("replay: not used: " + "; ".join(
            f"{system}|{code} x{n}" for (system, code), n in outcome.unused.most_common(10))
            + ("; ..." if len(outcome.unused) > 10 else ""), err=True)
    typer.echo(f"replay: {outcome.results} results, {len(outcome.rejects)} rejected, "
               f"{len(outcome.alerts)} alerts", err=True)

