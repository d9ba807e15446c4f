"""EHR clients: who may call the CDS Hooks services and launch the chart (SMART)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from monitor.cli.common import group, settings_or_exit

ehr_app = group("EHRs that call the CDS Hooks services and launch the chart (SMART).")


@ehr_app.command("add")
def ehr_add(issuer: str = typer.Argument(..., help="the `iss` of the EHR's CDS Hooks JWTs"),
            jwks: str = typer.Option(None, "--jwks", help="the EHR's public key set: a JWKS "
                                     "file, or the https URL it is published at (CDS Hooks; "
                                     "not needed for SMART launch alone)"),
            label: str = typer.Option("", help="the name shown in the audit log"),
            fhir_server: str = typer.Option(None, "--fhir-server", help=(
                "the EHR's FHIR base URL, the `iss` of its SMART launches")),
            client_id: str = typer.Option(None, "--client-id", help=(
                "this service's SMART client id at the EHR's authorization server")),
            launch_role: str = typer.Option("physician", help="nurse|physician: what a "
                                            "launched session may do")) -> None:
    """Register (or update) an EHR client."""
    from monitor.runtime import Runtime
    from monitor.services.access.ehr_clients import add_client

    key_text, key_url = None, None
    if jwks is None:
        pass
    elif jwks.startswith(("https://", "http://")):
        key_url = jwks
    else:
        try:
            key_text = Path(jwks).read_text(encoding="utf-8")
        except OSError as error:
            typer.echo(f"sodium-monitor: cannot read {jwks}: {error.strerror}", err=True)
            raise typer.Exit(1) from None
    rt = Runtime(settings_or_exit())
    with rt.uow() as uow:
        try:
            row = add_client(uow, issuer, datetime.now(UTC), jwks=key_text, jwks_url=key_url,
                             label=label, fhir_server=fhir_server,
                             smart_client_id=client_id, launch_role=launch_role)
        except ValueError as error:
            typer.echo(f"sodium-monitor: {error}", err=True)
            raise typer.Exit(1) from None
        launch = f"; SMART launch from {row.fhir_server}" if row.fhir_server else ""
        keys = "no CDS Hooks keys" if row.jwks is None and row.jwks_url is None else \
            f"keys from {row.jwks_url or 'the file given'}"
        typer.echo(f"EHR client {row.issuer} registered ({keys}){launch}")


@ehr_app.command("list")
def ehr_list() -> None:
    """The registered EHR clients."""
    from monitor.runtime import Runtime
    from monitor.services.access.ehr_clients import clients

    rt = Runtime(settings_or_exit())
    with rt.uow() as uow:
        for row in clients(uow):
            state = "revoked" if row.revoked_at else "active"
            keys = row.jwks_url or ("file" if row.jwks else "-")
            typer.echo(f"{row.issuer}\t{state}\tkeys: {keys}\t"
                       f"SMART: {row.fhir_server or '-'} {row.smart_client_id or ''}".rstrip())


@ehr_app.command("revoke")
def ehr_revoke(issuer: str) -> None:
    """Refuse the EHR client's calls and launches from now on."""
    from monitor.runtime import Runtime
    from monitor.services.access.ehr_clients import revoke_client

    rt = Runtime(settings_or_exit())
    with rt.uow() as uow:
        try:
            revoke_client(uow, issuer, datetime.now(UTC))
        except ValueError as error:
            typer.echo(f"sodium-monitor: {error}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"EHR client {issuer} revoked")
