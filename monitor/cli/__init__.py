"""The `sodium-monitor` command (Typer). Each sub-command lives in its own module."""

from __future__ import annotations

import typer

from monitor.cli import db, demo, policies, replay

app = typer.Typer(
    name="sodium-monitor",
    help="Watches lab feeds for serum sodium and warns when it is corrected too fast.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.command("replay")(replay.replay)
app.command("policies")(policies.policies)
app.command("demo")(demo.demo)


def main() -> None:
    app()
