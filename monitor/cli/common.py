"""What every command shares: settings that fail in one line naming the variable, the
progress bar, local times.

Command modules import only typer, the standard library and leaf modules at load time;
everything heavy (storage, the web app, Celery, the FHIR models) is imported inside the
command that needs it, so that `--help` and small commands start at once."""

from __future__ import annotations

import sys
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from tqdm import tqdm

    from monitor.config import Settings

# Below this many bytes a run is over before a bar would tell anything.
PROGRESS_FROM_BYTES = 256 * 1024


def group(help: str) -> typer.Typer:
    """A command group. Plain help (no rich): rich's formatter costs a quarter of a second
    at every `--help`, and plain text reads the same in a terminal, a log or a pipe."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


def settings_or_exit() -> Settings:
    from monitor.config import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as error:
        print(f"sodium-monitor: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def progress(total: int, desc: str) -> tqdm[Any]:
    """A progress bar on standard error, shown only on a terminal and for large inputs
    (standard output stays clean for JSON Lines)."""
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, file=sys.stderr, desc=desc,
                disable=not sys.stderr.isatty() or total < PROGRESS_FROM_BYTES)


def local_time(moment: datetime, zone: tzinfo) -> str:
    """A clock time as a nurse's screen shows it: local, minutes, with the zone."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def feed_files(paths: list[Path], command: str) -> list[Path]:
    """The files to read: a file as given; a FHIR Bulk Data export (its folder or its
    manifest.json) as the files its manifest lists, the Patient files first; a folder
    without a manifest as its *.ndjson files. Exits 2 on a broken manifest."""
    from monitor.ingest.bulk import NotAManifest, is_manifest, manifest_files

    out: list[Path] = []
    for path in paths:
        manifest = path / "manifest.json" if path.is_dir() else path
        if path.is_dir() and not manifest.exists():
            ndjson = sorted(path.glob("*.ndjson"), key=lambda p: not p.name.startswith("Patient"))
            out += ndjson
            continue
        try:
            text = manifest.read_text(encoding="utf-8") if manifest.suffix == ".json" \
                and manifest.stat().st_size < (16 << 20) else ""
        except OSError:
            text = ""
        if not path.is_dir() and not is_manifest(text):
            out.append(path)
            continue
        try:
            out += [manifest.parent / name for _, name in manifest_files(text)]
        except NotAManifest as error:
            typer.echo(f"sodium-monitor {command}: {manifest}: {error}", err=True)
            raise typer.Exit(2) from None
    return out
