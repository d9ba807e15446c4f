"""The calls this service makes to an EHR during a SMART launch: its smart-configuration,
its token endpoint, its key set and the launch's Patient. Each answers with what the launch
needs or raises EhrUnreachable / LaunchRefused in words for the person launching."""

from __future__ import annotations

import re
from typing import Any

import httpx

from monitor.services.access.smart import LaunchRefused
from monitor.web.ehr_keys import fetch_key_set

TIMEOUT_S = 5.0  # a person waits at a screen: the EHR answers quickly, or not at all
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR R4 `id`


class EhrUnreachable(Exception):
    """The EHR's servers did not answer as SMART asks: the reason, in words."""


def _call(method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        return httpx.request(method, url, timeout=TIMEOUT_S, **kwargs)
    except httpx.HTTPError as error:
        raise EhrUnreachable(f"{url} cannot be reached ({type(error).__name__})") from None


def _json(reply: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = reply.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise EhrUnreachable(f"{what} did not answer with a JSON object")
    return body


def smart_configuration(fhir_server: str) -> dict[str, Any]:
    """The EHR's `.well-known/smart-configuration`, checked for what this launch needs."""
    url = f"{fhir_server}/.well-known/smart-configuration"
    reply = _call("GET", url, headers={"Accept": "application/json"})
    if reply.status_code != 200:
        raise EhrUnreachable(f"{url} answered {reply.status_code}")
    config = _json(reply, url)
    for name in ("authorization_endpoint", "token_endpoint"):
        if not str(config.get(name) or "").startswith(("https://", "http://")):
            raise EhrUnreachable(f"{url} names no {name}")
    methods = config.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise EhrUnreachable(f"{url}: the authorization server does not offer PKCE S256")
    return config


def exchange_code(token_endpoint: str, code: str, client_id: str, verifier: str,
                  redirect_uri: str) -> dict[str, Any]:
    """The token response for the authorization code (with the PKCE verifier)."""
    reply = _call("POST", token_endpoint, headers={"Accept": "application/json"}, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "client_id": client_id, "code_verifier": verifier})
    if reply.status_code != 200:
        try:
            reason = reply.json().get("error")
        except (ValueError, AttributeError):
            reason = None
        raise LaunchRefused(f"its token endpoint refused the sign-in "
                            f"({str(reason or reply.status_code)[:100]})")
    return _json(reply, "the EHR's token endpoint")


def key_set(jwks_uri: str, kid: str | None) -> dict[str, Any]:
    """The authorization server's public keys (JWKS), which sign its id tokens: kept a few
    minutes as the CDS Hooks key sets are (monitor/web/ehr_keys.py), fetched again when
    the token names a `kid` the kept set lacks (a rotated key)."""
    try:
        found = fetch_key_set(jwks_uri)
        if kid is not None and not any(isinstance(k, dict) and k.get("kid") == kid
                                       for k in found["keys"]):
            found = fetch_key_set(jwks_uri, refresh=True)
    except OSError as error:
        raise EhrUnreachable(str(error)) from None
    return found


def patient_identifiers(fhir_server: str, fhir_id: str, access_token: str
                        ) -> list[tuple[str, str]]:
    """(system, value) of the EHR's Patient `fhir_id`, read with the launch's token."""
    if not FHIR_ID.fullmatch(fhir_id):
        raise LaunchRefused(f"the patient context {fhir_id[:70]!r} is not a FHIR id")
    url = f"{fhir_server}/Patient/{fhir_id}"
    reply = _call("GET", url, headers={"Authorization": f"Bearer {access_token}",
                                       "Accept": "application/fhir+json"})
    if reply.status_code != 200:
        raise EhrUnreachable(f"the EHR answered {reply.status_code} for Patient/{fhir_id}")
    found = _json(reply, url).get("identifier")
    return [(str(i.get("system") or ""), str(i.get("value") or ""))
            for i in (found if isinstance(found, list) else []) if isinstance(i, dict)]
