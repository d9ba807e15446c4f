"""SMART on FHIR EHR launch (SMART App Launch 2.x): the EHR opens the patient's chart here
without a second sign-in. The web layer does the HTTP (monitor/web/smart.py); this module
keeps the launch between the redirect and the callback, checks the id token, and opens a
session for the launch's patient only.

The browser carries only `state`; its hash, the PKCE verifier and the token endpoint stay in
smart_launches for ten minutes and are spent by the first callback. Each EHR user gets one
local user (`ehr:<client id>:<fhirUser>`) without a password: it exists so sessions, audit
rows and alert actions name someone, and it can only be entered through a launch.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
from sqlalchemy import delete, select

from monitor.services.access.audit import audit
from monitor.services.access.auth import SignedIn, open_session
from monitor.services.access.ehr_clients import ALGORITHMS, LEEWAY
from monitor.services.access.tokens import ensure_roles
from monitor.storage.tables import EhrClient, Patient, SmartLaunch, User
from monitor.storage.uow import UnitOfWork

# What the chart needs: the launch context, who the user is (openid fhirUser) and the
# patient's identifiers to find it among the monitored ones (patient/Patient.read).
SCOPE = "launch openid fhirUser patient/Patient.read"
LAUNCH_LIFETIME = timedelta(minutes=10)  # from the redirect to the EHR to its callback
UNKNOWN_USER = "unknown EHR user"


class LaunchRefused(Exception):
    """The launch cannot go on: the reason, in words for the person launching."""


@dataclass(frozen=True)
class EhrUser:
    fhir_user: str  # the id token's fhirUser (e.g. Practitioner/123), else its sub
    name: str  # the id token's name claim, if the EHR sent one


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def code_challenge(verifier: str) -> str:
    """PKCE S256 (RFC 7636 §4.2): base64url of the verifier's SHA-256, unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def begin_launch(uow: UnitOfWork, client: EhrClient, authorize_endpoint: str,
                 token_endpoint: str, launch: str, redirect_uri: str, now: datetime) -> str:
    """The EHR authorization server's URL to send the browser to; the launch is kept."""
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]: RFC 7636 §4.1
    s = uow.session
    s.execute(delete(SmartLaunch).where(SmartLaunch.expires_at < now))  # abandoned ones
    s.add(SmartLaunch(state_hash=_hash(state), ehr_client_id=client.id, code_verifier=verifier,
                      token_endpoint=token_endpoint, created_at=now,
                      expires_at=now + LAUNCH_LIFETIME))
    uow.commit()
    query = urlencode({
        "response_type": "code", "client_id": client.smart_client_id or "",
        "redirect_uri": redirect_uri, "launch": launch, "scope": SCOPE, "state": state,
        "aud": client.fhir_server or "", "code_challenge": code_challenge(verifier),
        "code_challenge_method": "S256"})
    return f"{authorize_endpoint}{'&' if '?' in authorize_endpoint else '?'}{query}"


def take_launch(uow: UnitOfWork, state: str, now: datetime
                ) -> tuple[SmartLaunch, EhrClient] | None:
    """The launch `state` names, spent (a second callback with it gets None), if it has
    not expired and its EHR client is still registered."""
    s = uow.session
    row = s.get(SmartLaunch, _hash(state))
    if row is None:
        return None
    # The conditional delete decides: of two callbacks racing with one state, one wins.
    spent = s.execute(delete(SmartLaunch).where(SmartLaunch.state_hash == row.state_hash))
    uow.commit()
    if getattr(spent, "rowcount", 0) != 1 or row.expires_at <= now:
        return None
    client = s.get(EhrClient, row.ehr_client_id)
    if client is None or client.revoked_at is not None or not client.fhir_server:
        return None
    return row, client


def ehr_user(id_token: str | None, key_set: dict[str, Any] | None, client_id: str,
             issuer: str | None, now: datetime) -> EhrUser:
    """Who the EHR says is launching, from the id token of the token response. Verified
    against the authorization server's key set (`key_set`, from its jwks_uri) when it
    publishes one; without one, the token is trusted as the back-channel answer of the
    token endpoint (OpenID Connect Core §3.1.3.7). No id token: UNKNOWN_USER."""
    if not id_token:
        return EhrUser(UNKNOWN_USER, "")
    try:
        claims = _verified(id_token, key_set, client_id, issuer)
    except jwt.PyJWTError as error:
        raise LaunchRefused(f"the EHR's id token does not verify: {error}") from None
    expires = claims.get("exp")
    if isinstance(expires, int | float) and \
            datetime.fromtimestamp(expires, UTC) + LEEWAY < now:
        raise LaunchRefused("the EHR's id token has expired")
    who = str(claims.get("fhirUser") or claims.get("sub") or UNKNOWN_USER)
    return EhrUser(who, str(claims.get("name") or ""))


def _verified(id_token: str, key_set: dict[str, Any] | None, client_id: str,
              issuer: str | None) -> dict[str, Any]:
    if key_set is None:
        claims: dict[str, Any] = jwt.decode(id_token, options={"verify_signature": False})
        return claims
    kid = jwt.get_unverified_header(id_token).get("kid")
    keys = [k for k in jwt.PyJWKSet.from_dict(key_set).keys if kid is None or k.key_id == kid]
    if not keys:
        raise LaunchRefused(f"the EHR's id token is signed with key {kid!r}, which its key "
                            "set does not hold")
    failure: jwt.PyJWTError | None = None
    for key in keys:  # without a kid, any key of the set may have signed it
        try:
            verified: dict[str, Any] = jwt.decode(
                id_token, key.key, algorithms=list(ALGORITHMS), audience=client_id,
                issuer=issuer, options={"verify_exp": False, "verify_iat": False,
                                        "verify_nbf": False, "require": ["sub", "aud", "exp"]})
            return verified
        except jwt.InvalidSignatureError as error:
            failure = error
    assert failure is not None
    raise failure


def local_username(client: EhrClient, fhir_user: str) -> str:
    """`ehr:<client id>:<fhirUser>`, within users.username's 100 characters (a long one is
    shortened with a hash of the whole, so two users never share a name)."""
    name = f"ehr:{client.id}:{fhir_user}"
    if len(name) <= 100:
        return name
    return f"{name[:60]}~{_hash(fhir_user)[:32]}"


def open_launched_session(uow: UnitOfWork, client: EhrClient, patient: Patient, who: EhrUser,
                          now: datetime) -> SignedIn:
    """A session for `patient` only, as the EHR user's local user (made on the first
    launch; its role follows the client's launch_role). Audited as "smart-launch"."""
    s = uow.session
    username = local_username(client, who.fhir_user)
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        ensure_roles(uow)
        user = User(username=username, role=client.launch_role, password_hash=None,
                    display_name=(who.name or who.fhir_user)[:200], active=True,
                    created_at=now)
        s.add(user)
        s.flush()
    elif user.password_hash is not None or not user.active:
        # A password account of that name is not the EHR's to enter; a deactivated one was
        # switched off by an administrator.
        raise LaunchRefused(f"the account {username} may not be entered by a launch")
    user.role = client.launch_role
    if who.name:
        user.display_name = who.name[:200]
    signed = open_session(uow, user.id, now, patient_id=patient.id)
    audit(uow, username, "smart-launch", now, "patient", patient.id, issuer=client.issuer,
          fhir_server=client.fhir_server, ehr_user=who.fhir_user)
    uow.commit()
    return signed


def refuse(uow: UnitOfWork, iss: str, reason: str, now: datetime) -> None:
    """A launch that did not open the chart, audited with its `iss` and why."""
    audit(uow, "anonymous", "smart-launch-refused", now, "ehr", iss[:100], reason=reason[:300])
    uow.commit()
