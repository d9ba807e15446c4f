"""`sodium-monitor simulate`: the ward simulator against any running deployment."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime

import typer


def simulate(to: str = typer.Option(..., "--to", help="HOST:PORT of an MLLP listener"),
             patients: int = typer.Option(12, help="how many simulated patients"),
             rate: float = typer.Option(3.0, help="seconds between live results"),
             prefix: str = typer.Option(None, help="record-number prefix of this run's "
                                        "patients [default: S and the time, e.g. S224103]"),
             api: str = typer.Option(None, help="the deployment's web address, to print "
                                     "the alerts it raises (with --token)"),
             token: str = typer.Option(None, help="an API token that may view alerts "
                                       "(`tokens create --role admin`)", envvar="SODIUM_TOKEN"),
             ) -> None:
    """Feed the demo ward's stories over MLLP: 36 h of history, then one live result
    every --rate seconds. Prints each message with its acknowledgement and, with --api
    and --token, each alert raised for this run's patients; Ctrl-C prints a summary."""
    from monitor.sim.feed import AlertWatch, describe, run, run_prefix

    host, _, port = to.rpartition(":")
    if not host or not port.isdigit():
        typer.echo("sodium-monitor simulate: --to must be HOST:PORT", err=True)
        raise typer.Exit(2)
    if bool(api) != bool(token):
        typer.echo("sodium-monitor simulate: --api and --token go together", err=True)
        raise typer.Exit(2)
    began, codes, alerts = time.monotonic(), Counter[str](), 0
    prefix = prefix or run_prefix(datetime.now(UTC))
    watch = AlertWatch(api, token, prefix) if api and token else None
    lock = threading.Lock()

    def on_sent(message: str, code: str) -> None:
        with lock:
            codes[code] += 1
            typer.echo(f"{_clock()}  {code:<5} {describe(message)}")

    def show_alerts() -> None:
        nonlocal alerts
        if watch is None:
            return
        try:
            fresh = watch.new()
        except OSError as error:  # the API may restart; the feed goes on
            typer.echo(f"{_clock()}  (alerts unavailable: {error})", err=True)
            return
        with lock:
            for a in fresh:
                alerts += 1
                typer.echo(f"{_clock()}  ALERT {a['severity']} {a['rule']} "
                           f"{a['patient_id']}: {a['message']}")

    def poll(stop: threading.Event) -> None:
        while not stop.wait(2):
            show_alerts()

    typer.echo(f"simulate: {patients} patients {prefix}-..., to {host}:{port}"
               + ("" if watch else " (alerts: add --api URL --token T to see them here)"))
    stop = threading.Event()
    poller = threading.Thread(target=poll, args=(stop,), daemon=True)
    poller.start()
    try:
        run(host, int(port), patients=patients, rate=rate, prefix=prefix, on_sent=on_sent)
        if watch is not None:  # the last results' alerts: evaluated after their ACK
            time.sleep(2)
    except KeyboardInterrupt:
        pass
    except OSError as error:
        typer.echo(f"sodium-monitor simulate: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        stop.set()
        poller.join(timeout=10)
        show_alerts()
        summary = ", ".join(f"{k} {v}" for k, v in sorted(codes.items())) or "none"
        seen = f", {alerts} alerts" if watch else ""
        typer.echo(f"simulate: {sum(codes.values())} messages ({summary}){seen} in "
                   f"{time.monotonic() - began:.0f} s")


def _clock() -> str:
    return datetime.now().astimezone().strftime("%H:%M:%S")
