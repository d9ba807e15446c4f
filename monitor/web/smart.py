"""SMART on FHIR EHR launch of the patient chart: `GET /smart/launch?iss=&launch=` from
the EHR, the authorization server's `GET /smart/callback?code=&state=`, then the chart.
The calls to the EHR are monitor/web/ehr_http.py; the launch itself is
monitor/services/access/smart.py.

Every call goes to the servers the EHR registered (its FHIR base URL, and the endpoints
that base URL's smart-configuration names): an unknown `iss` is refused before anything is
fetched, so this service never sends a browser to a server it was not told about."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.runtime import Runtime
from monitor.services.access.ehr_clients import smart_client
from monitor.services.access.smart import (
    EhrUser,
    LaunchRefused,
    begin_launch,
    ehr_user,
    open_launched_session,
    refuse,
    take_launch,
)
from monitor.storage.repos.patients import find_patient
from monitor.storage.tables import EhrClient
from monitor.web import ehr_http
from monitor.web.deps import RuntimeDep
from monitor.web.ehr_http import EhrUnreachable
from monitor.web.security import set_session_cookie
from monitor.web.templating import templates

router = APIRouter(include_in_schema=False)


def _refused(request: Request, rt: Runtime, iss: str, status: int, heading: str,
             detail: str) -> HTMLResponse:
    """The page for the person launching; the refusal is audited (smart-launch-refused)."""
    with rt.uow() as uow:
        refuse(uow, iss, f"{status} {heading}: {detail}", datetime.now(UTC))
    return templates.TemplateResponse(request, "error.html", {
        "who": None, "heading": heading, "detail": detail, "actor": None},
        status_code=status)


def _redirect_uri(rt: Runtime) -> str:
    return f"{rt.settings.public_url.rstrip('/')}/smart/callback"


@router.get("/smart/launch", response_class=HTMLResponse)
def launch_page(request: Request, rt: RuntimeDep, iss: str = "", launch: str = "") -> Response:
    with rt.uow() as uow:
        client = smart_client(uow, iss) if iss else None
    if client is None or not client.fhir_server:
        return _refused(request, rt, iss or "?", 400, "This EHR is not registered",
                        f"The launch came from {iss[:300] or 'no server (iss is missing)'}, "
                        "which is not registered here for SMART launch. An administrator "
                        "registers it with `sodium-monitor ehr-clients add`.")
    if not launch:
        return _refused(request, rt, iss or "?", 400, "Launch from the EHR",
                        "The launch carries no launch context: open the chart from the "
                        "patient's record in the EHR.")
    try:
        config = ehr_http.smart_configuration(client.fhir_server)
    except EhrUnreachable as error:
        return _refused(request, rt, iss, 502, "The EHR does not answer",
                        f"{error}. Try again in a moment; if it persists, tell the EHR's "
                        "administrators.")
    with rt.uow() as uow:
        target = begin_launch(uow, client, str(config["authorization_endpoint"]),
                              str(config["token_endpoint"]), launch, _redirect_uri(rt),
                              datetime.now(UTC))
    return RedirectResponse(target, status_code=303)


@router.get("/smart/callback", response_class=HTMLResponse)
def callback_page(request: Request, rt: RuntimeDep, code: str = "", state: str = "",
             error: str = "", error_description: str = "") -> Response:
    now = datetime.now(UTC)
    with rt.uow() as uow:
        taken = take_launch(uow, state, now) if state else None  # spent, even on an error
    iss = (taken[1].fhir_server or "?") if taken else "?"
    if error:
        return _refused(request, rt, iss, 403, "The EHR did not allow the launch",
                        f"Its authorization server answered {error[:100]}"
                        f"{': ' + error_description[:300] if error_description else ''}.")
    if taken is None or not code:
        return _refused(request, rt, iss, 400, "This launch has expired",
                        "The launch is unknown, was already used or took longer than ten "
                        "minutes. Open the chart from the EHR again.")
    started, client = taken
    try:
        return _finish(request, rt, client, started.token_endpoint, started.code_verifier,
                       code, now)
    except EhrUnreachable as failure:
        return _refused(request, rt, iss, 502, "The EHR does not answer", f"{failure}.")
    except LaunchRefused as refused:
        return _refused(request, rt, iss, 403, "The EHR did not allow the launch",
                        f"The launch was refused: {refused}.")


def _finish(request: Request, rt: Runtime, client: EhrClient, token_endpoint: str,
            verifier: str, code: str, now: datetime) -> Response:
    """The code exchanged for the patient context, the patient found, the session opened."""
    assert client.fhir_server is not None
    token = ehr_http.exchange_code(token_endpoint, code, client.smart_client_id or "",
                                   verifier, _redirect_uri(rt))
    fhir_id, access = str(token.get("patient") or ""), str(token.get("access_token") or "")
    if not fhir_id or not access:
        raise LaunchRefused("the EHR sent no patient context (the launch names no patient)")
    who = _user(client, token.get("id_token"), now)
    aliases = rt.settings.authority_aliases
    with rt.uow() as uow:
        patient = find_patient(uow.session, [], fhir_id, aliases)
    if patient is None:  # not linked by the feeds: ask the EHR who the patient is
        identifiers = ehr_http.patient_identifiers(client.fhir_server, fhir_id, access)
        with rt.uow() as uow:
            patient = find_patient(uow.session, identifiers, fhir_id, aliases)
    if patient is None:
        return _refused(request, rt, client.fhir_server, 404, "Not monitored here",
                        "There are no sodium results for this patient here: the monitor "
                        "has received none of their laboratory results.")
    with rt.uow() as uow:
        signed = open_launched_session(uow, client, patient, who, now)
    reply = RedirectResponse(f"/patients/{patient.id}", status_code=303)
    set_session_cookie(reply, rt, request, signed.token)
    return reply


def _user(client: EhrClient, id_token: Any, now: datetime) -> EhrUser:
    """The EHR user of the token response, its id token checked against the keys the
    authorization server publishes (the jwks_uri of its smart-configuration)."""
    if not isinstance(id_token, str) or not id_token:
        return ehr_user(None, None, client.smart_client_id or "", None, now)
    assert client.fhir_server is not None
    config = ehr_http.smart_configuration(client.fhir_server)
    jwks_uri = str(config.get("jwks_uri") or "")
    try:
        kid = jwt.get_unverified_header(id_token).get("kid")
    except jwt.PyJWTError:
        raise LaunchRefused("the EHR's id token is not a JWT") from None
    keys = ehr_http.key_set(jwks_uri, kid if isinstance(kid, str) else None) \
        if jwks_uri else None
    issuer = config.get("issuer")
    return ehr_user(id_token, keys, client.smart_client_id or "",
                    str(issuer) if issuer else None, now)
