"""`sodium-monitor policies`: print the policy profiles and their sources."""

from __future__ import annotations

import json

import typer


def policies(
    name: list[str] = typer.Argument(None, help="Profiles or TOML files (default: built-in)."),
    as_json: bool = typer.Option(False, "--json", help="Every parameter, as JSON."),
) -> None:
    """Print the policy profiles: limits, bands and the source of each."""
    from monitor.engine.policy import BUILT_IN, PolicyError, load_policy

    for item in name or list(BUILT_IN):
        try:
            p = load_policy(item)
        except PolicyError as error:
            typer.echo(f"sodium-monitor: {error}", err=True)
            raise typer.Exit(2) from None
        if as_json:
            typer.echo(json.dumps(p.model_dump(), indent=2))
            continue
        s, h = p.limits.standard, p.tier_limits(True)
        first = f" (first 24 h of an episode: {s.first_day_rise_24h:g})" \
            if s.first_day_rise_24h else ""
        typer.echo(f"{p.name}: {p.title}")
        typer.echo(f"  standard risk: {s.rise_24h:g} mmol/L per 24 h{first}, "
                   f"{s.rise_48h:g} per 48 h")
        floor = f" ({p.limit_source(True)})" if p.limits.high is None else ""
        typer.echo(f"  high risk:     {h.rise_24h:g} mmol/L per 24 h, {h.rise_48h:g} per 48 h"
                   f"{floor}")
        typer.echo(f"  severe band:   < {p.bands.severe_below:g} mmol/L")
        typer.echo(f"  source:        {p.source}\n")
