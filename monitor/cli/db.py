"""`sodium-monitor db upgrade|current`: migrations shipped inside the package."""

from __future__ import annotations

import typer

from monitor.cli.common import group, settings_or_exit

app = group("Database schema (Alembic migrations).")


@app.command("upgrade")
def upgrade_command(revision: str = typer.Argument("head")) -> None:
    """Apply migrations to SODIUM_DATABASE_URL (default: up to head)."""
    from monitor.storage.db import make_engine
    from monitor.storage.migrate import current_revision, upgrade

    settings = settings_or_exit()
    upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}: {current_revision(make_engine(settings.database_url))}")


@app.command("current")
def current_command() -> None:
    """Print the database's revision and the head revision; exit 1 when they differ."""
    from monitor.storage.db import make_engine
    from monitor.storage.migrate import current_revision, head_revision

    settings = settings_or_exit()
    current = current_revision(make_engine(settings.database_url))
    head = head_revision(settings.database_url)
    typer.echo(f"current: {current}\nhead:    {head}")
    raise typer.Exit(0 if current == head else 1)
