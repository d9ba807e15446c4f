"""`sodium-monitor feeds`: bind MLLP feeds to a certificate or a network, and their
permissions (monitor/listener/auth.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from monitor.cli.common import settings_or_exit
from monitor.runtime import Runtime
from monitor.services.intake.feeds import PERMISSIONS, bind_feed, feed_bindings

feeds_app = typer.Typer(help="MLLP feeds: who may connect and what each may change.",
                        no_args_is_help=True)


@feeds_app.command("add")
def add(name: str = typer.Argument(..., help="the feed's name (results are keyed per feed)"),
        cert_cn: str = typer.Option(None, "--cert-cn",
                                    help="client certificate subject CN or DNS SAN"),
        allow_ip: list[str] = typer.Option(
            [], "--allow-ip", help="a network (CIDR) it may connect from without a "
            "certificate; repeatable"),
        allow: str = typer.Option("results", "--allow", help=(
            f"what it may do beyond results, comma-separated: {', '.join(PERMISSIONS)}"))
        ) -> None:
    """Create or update a feed's binding (again: replaces its CN, networks and permissions)."""
    rt = Runtime(settings_or_exit())
    wanted = {p.strip() for p in allow.split(",") if p.strip()}
    try:
        b = bind_feed(rt.uow(), name, datetime.now(UTC), cert_cn=cert_cn or None,
                      allow_ips=allow_ip, allow=wanted)
    except ValueError as error:
        typer.echo(f"sodium-monitor feeds add: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{b.name}: cert-cn {b.cert_cn or '-'}, allow-ip "
               f"{' '.join(b.allow_ips) or '-'}, may send {','.join(sorted(b.permissions))}")


@feeds_app.command("list")
def list_feeds() -> None:
    """The bound feeds."""
    for b in feed_bindings(Runtime(settings_or_exit()).uow()):
        typer.echo(f"{b.name}\tcert-cn {b.cert_cn or '-'}\tallow-ip "
                   f"{' '.join(b.allow_ips) or '-'}\t{','.join(sorted(b.permissions))}")
