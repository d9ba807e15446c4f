"""The `sodium-monitor` command (Typer). Each sub-command lives in its own module."""

from __future__ import annotations

import typer

from monitor.cli import admin, check, db, demo, feeds, live, policies, processes, replay, simulate

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
