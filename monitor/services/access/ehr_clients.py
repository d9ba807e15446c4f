"""EHRs registered to call the CDS Hooks services and to launch the chart with SMART, and
the check of a CDS Hooks call's JWT (CDS Hooks 2.0, "Trusting CDS Clients").

A CDS client signs each call with a key of its key set (JWKS); the service knows which
issuers it trusts and where their keys are: nothing in the token itself (no `jku`) decides
that. A token is accepted once: its jti is kept until it expires.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from monitor.services.access.roles import ROLES
from monitor.services.access.tokens import ensure_roles
from monitor.storage.repos.common import require_fits
from monitor.storage.tables import EhrClient, EhrTokenUse
from monitor.storage.uow import UnitOfWork

# Asymmetric signatures only: a shared-secret HS256 token would let anyone holding the
# "key set" sign calls, and "none" is no signature at all. The spec asks for ES384/RS384.
ALGORITHMS = ("ES384", "RS384", "ES256", "RS256", "ES512", "RS512", "PS384", "PS256")
LEEWAY = timedelta(seconds=60)  # clocks of the EHR and of this service disagree a little
LONGEST = timedelta(hours=1)  # the spec asks for at most 5 minutes; beyond an hour: refused


class ClientRefused(Exception):
    """The call is not from a registered EHR client: the reason, for the 401 body."""


@dataclass(frozen=True)
class HookCaller:
    client_id: int
    issuer: str
    label: str
    subject: str  # the JWT's sub: the CDS client's id at the EHR


KeySource = Callable[[str, bool], dict[str, Any]]  # (jwks URL, refresh) -> key set


def add_client(uow: UnitOfWork, issuer: str, now: datetime, *, jwks: str | None = None,
               jwks_url: str | None = None, label: str = "", fhir_server: str | None = None,
               smart_client_id: str | None = None, launch_role: str = "physician"
               ) -> EhrClient:
    """Register (or update) the EHR client `issuer`. `jwks`: a key set's JSON text."""
    issuer = issuer.strip()
    if not issuer:
        raise ValueError("the issuer is the `iss` the EHR's JWTs carry; it cannot be empty")
    if jwks is not None and jwks_url is not None:
        raise ValueError("give the EHR's key set once: a JWKS file or a JWKS URL")
    if jwks is None and jwks_url is None and fhir_server is None:
        raise ValueError("give the EHR's key set (a JWKS file or URL) for CDS Hooks, or its "
                         "FHIR server and client id for SMART launch, or both")
    if jwks is not None:
        _check_key_set(jwks)
    if jwks_url is not None and not jwks_url.startswith(("https://", "http://")):
        raise ValueError(f"{jwks_url!r} is not an http(s) URL")
    if (fhir_server is None) != (smart_client_id is None):
        raise ValueError("a SMART launch needs both the EHR's FHIR server (the launch's iss) "
                         "and this service's client id there")
    for value, column, what in ((issuer, EhrClient.issuer, "issuer"),
                                (label, EhrClient.label, "label"),
                                (jwks_url, EhrClient.jwks_url, "JWKS URL"),
                                (fhir_server, EhrClient.fhir_server, "FHIR server"),
                                (smart_client_id, EhrClient.smart_client_id, "client id")):
        if value is not None:
            require_fits(value, column, what)
    if any(ord(c) < 32 or ord(c) == 127 for c in (jwks_url or "") + (fhir_server or "")):
        raise ValueError("a URL cannot hold control characters")
    if launch_role not in ROLES or launch_role in ("feed", "admin"):
        raise ValueError(f"a launched session is a nurse's or a physician's, not {launch_role}")
    ensure_roles(uow)
    s = uow.session
    row = s.scalar(select(EhrClient).where(EhrClient.issuer == issuer))
    if row is None:
        row = EhrClient(issuer=issuer, created_at=now)
        s.add(row)
    row.label, row.jwks, row.jwks_url = label or issuer, jwks, jwks_url
    row.fhir_server = fhir_server.rstrip("/") if fhir_server else None
    row.smart_client_id, row.launch_role, row.revoked_at = smart_client_id, launch_role, None
    uow.commit()
    return row


def _check_key_set(text: str) -> None:
    try:
        keys = jwt.PyJWKSet.from_json(text).keys
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"not a usable JWKS (a JSON object with \"keys\"): {error}") from None
    if any(not k.key_type or k.key_type == "oct" for k in (keys or [])):
        raise ValueError("a JWKS of public keys (RSA or EC), not a shared secret")


def clients(uow: UnitOfWork) -> list[EhrClient]:
    return list(uow.session.scalars(select(EhrClient).order_by(EhrClient.issuer)))


def revoke_client(uow: UnitOfWork, issuer: str, now: datetime) -> EhrClient:
    row = uow.session.scalar(select(EhrClient).where(EhrClient.issuer == issuer))
    if row is None:
        raise ValueError(f"no EHR client {issuer!r}")
    row.revoked_at = now
    uow.commit()
    return row


def smart_client(uow: UnitOfWork, fhir_server: str) -> EhrClient | None:
    """The live client that launches from the FHIR server `fhir_server` (a SMART `iss`)."""
    found: EhrClient | None = uow.session.scalar(select(EhrClient).where(
        EhrClient.fhir_server == fhir_server.rstrip("/"), EhrClient.revoked_at.is_(None)))
    return found


def verify_hook_call(uow: UnitOfWork, token: str, audience: str, now: datetime,
                     fetch_keys: KeySource) -> HookCaller:
    """The registered client that signed `token` for the service at `audience` (its URL),
    or ClientRefused. The token is spent: the same jti is refused until it expires."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise ClientRefused("the Authorization header carries no JWT") from None
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        raise ClientRefused("the token names no issuer (iss)")
    client = uow.session.scalar(
        select(EhrClient).where(EhrClient.issuer == issuer, EhrClient.revoked_at.is_(None)))
    if client is None:
        raise ClientRefused(f"issuer {issuer!r} is not a registered EHR client")
    if header.get("alg") not in ALGORITHMS:
        raise ClientRefused(f"alg {header.get('alg')!r} is not accepted; sign with ES384 or "
                            "RS384")
    key = _signing_key(client, header.get("kid"), fetch_keys)
    try:  # time is checked below, against `now`
        claims = jwt.decode(token, key, algorithms=list(ALGORITHMS), audience=audience,
                            issuer=issuer, options={"verify_exp": False, "verify_iat": False,
                                                    "verify_nbf": False,
                                                    "require": ["iss", "sub", "aud", "exp", "iat",
                                                                "jti"]})
    except jwt.InvalidAudienceError:
        raise ClientRefused(f"the token's aud is not {audience}") from None
    except jwt.PyJWTError as error:
        raise ClientRefused(f"the token does not verify: {error}") from None
    except (TypeError, ValueError):  # PyJWT's word for an RSA key named by an ES alg
        raise ClientRefused(f"the token does not verify: alg {header.get('alg')} does not "
                            "fit the type of the key it names") from None
    expires = _moment(claims["exp"])
    if expires is None or expires + LEEWAY < now:
        raise ClientRefused("the token has expired")
    if expires - now > LONGEST:
        raise ClientRefused("the token lives too long (exp at most 5 minutes ahead)")
    issued = _moment(claims.get("iat"))
    if issued is None and claims.get("iat") is not None:
        raise ClientRefused("the token's iat is not a time (seconds since 1970)")
    if issued is not None and issued - LEEWAY > now:
        raise ClientRefused("the token is issued in the future (iat)")
    if "nbf" in claims:  # optional, but a JWT is not taken before its nbf (RFC 7519)
        usable = _moment(claims["nbf"])
        if usable is None or usable - LEEWAY > now:
            raise ClientRefused("the token is not valid before its nbf")
    _spend(uow, issuer, str(claims["jti"]), expires + LEEWAY, now)
    return HookCaller(client.id, client.issuer, client.label, str(claims.get("sub") or ""))


def _signing_key(client: EhrClient, kid: Any, fetch_keys: KeySource) -> Any:
    def pick(key_set: dict[str, Any]) -> Any:
        keys = jwt.PyJWKSet.from_dict(key_set).keys
        found = [k for k in keys if kid is None or k.key_id == kid]
        return found[0].key if kid is not None and found else \
            (keys[0].key if kid is None and len(keys) == 1 else None)

    if client.jwks is None and client.jwks_url is None:
        raise ClientRefused(f"{client.issuer} is registered for SMART launch only: no key "
                            "set of its CDS client is registered (ehr-clients add --jwks)")
    try:
        if client.jwks is not None:
            key = pick(json.loads(client.jwks))
        else:
            key = pick(fetch_keys(client.jwks_url or "", False))
            if key is None:  # a key rotated in since the set was fetched
                key = pick(fetch_keys(client.jwks_url or "", True))
    except (jwt.PyJWTError, ValueError, KeyError, TypeError, OSError) as error:
        raise ClientRefused(f"the EHR client's key set cannot be read: {error}") from None
    if key is None:
        raise ClientRefused(f"no key {kid!r} in the key set of {client.issuer}" if kid
                            else "the token names no kid and the key set holds several keys")
    return key


def _moment(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):  # a time no calendar holds (or NaN)
        return None


def _spend(uow: UnitOfWork, issuer: str, jti: str, keep_until: datetime, now: datetime) -> None:
    s = uow.session
    key = hashlib.sha256(f"{issuer}\n{jti}".encode()).hexdigest()
    s.execute(delete(EhrTokenUse).where(EhrTokenUse.expires_at < now))
    s.add(EhrTokenUse(key=key, expires_at=keep_until))
    try:
        uow.commit()
    except IntegrityError:
        uow.session.rollback()
        raise ClientRefused("the token was used before (jti): sign each call anew") from None
