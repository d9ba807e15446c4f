"""`sodium-monitor simulate`: the ward simulator against any running deployment."""

from __future__ import annotations

import typer


def simulate(to: str = typer.Option(..., "--to", help="HOST:PORT of an MLLP listener"),
             patients: int = typer.Option(12, help="how many simulated patients"),
             rate: float = typer.Option(3.0, help="seconds between live results"),
             speed: float = typer.Option(1.0, help="compress the live part")) -> None:
    """Feed the demo ward's stories over MLLP: 36 h of history, then live results."""
    from monitor.sim.feed import run

    host, _, port = to.rpartition(":")
    if not host or not port.isdigit():
        typer.echo("sodium-monitor simulate: --to must be HOST:PORT", err=True)
        raise typer.Exit(2)
    try:
        accepted = run(host, int(port), patients=patients, rate=rate / max(speed, 0.01))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    except OSError as error:
        typer.echo(f"sodium-monitor simulate: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"simulate: {accepted} messages acknowledged AA")
