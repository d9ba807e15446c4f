"""The `sodium-monitor` command (Typer). Each sub-command lives in its own module; the
modules import what is heavy inside their commands (see monitor.cli.common)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version

import typer

from monitor.cli import (
    admin,
    check,
    db,
    demo,
    ehr,
    feeds,
    live,
    policies,
    processes,
    replay,
    simulate,
)

app = typer.Typer(
    name="sodium-monitor",
    help="Watches lab feeds for serum sodium and warns when it is corrected too fast.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help, as every group has (monitor.cli.common.group)
)


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"sodium-monitor {installed_version('sodium-monitor')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("sodium-monitor (not installed)")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_version,
                                          is_eager=True, help="Print the version and exit."),
             ) -> None:
    """Watches lab feeds for serum sodium and warns when it is corrected too fast."""


app.add_typer(db.app, name="db")
app.command("replay")(replay.replay)
app.command("policies")(policies.policies)
app.command("demo")(demo.demo)
app.command("simulate")(simulate.simulate)
app.command("check")(check.check_command)
app.command("api")(processes.api)
app.command("mllp")(processes.mllp)
app.command("worker")(processes.worker)
app.command("scheduler")(processes.scheduler)
app.command("import")(live.import_files)
app.add_typer(live.rejects_app, name="rejects")
app.add_typer(live.alerts_app, name="alerts")
app.add_typer(live.tokens_app, name="tokens")
app.add_typer(feeds.feeds_app, name="feeds")
app.add_typer(ehr.ehr_app, name="ehr-clients")
app.add_typer(admin.wards_app, name="wards")
app.add_typer(admin.users_app, name="users")
app.add_typer(admin.channels_app, name="channels")
app.add_typer(admin.roster_app, name="roster")
app.add_typer(admin.report_app, name="report")
live.alerts_app.command("ack")(admin.alerts_ack)
live.alerts_app.command("shelve")(admin.alerts_shelve)
live.alerts_app.command("resolve")(admin.alerts_resolve)


def main() -> None:
    app()
