"""Who is calling: a session cookie (pages) or a bearer token (API). Anonymous callers get
401 on the API and a redirect to the login page elsewhere."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from starlette.datastructures import MutableHeaders

from monitor.runtime import Runtime
from monitor.services.access.auth import SESSION_LIFETIME, session_user
from monitor.services.access.scope import Principal, principal
from monitor.services.access.tokens import use_token
from monitor.storage.tables import User
from monitor.web.deps import RuntimeDep

COOKIE = "sm_session"


def cookie_name(rt: Runtime) -> str:
    """`__Host-sm_session` when the app is published over https (SODIUM_PUBLIC_URL): the
    browser then sends it only over https, for this host, never set by a subdomain."""
    return f"__Host-{COOKIE}" if secure_site(rt) else COOKIE


def secure_site(rt: Runtime) -> bool:
    return rt.settings.public_url.lower().startswith("https://")


def set_session_cookie(reply: Response, rt: Runtime, request: Request, token: str) -> None:
    """The session cookie, the same for a sign-in and a SMART launch: httponly, lax (a
    top-level navigation from the EHR carries it), secure over https, one shift long."""
    reply.set_cookie(cookie_name(rt), token, httponly=True, samesite="lax", path="/",
                     secure=secure_site(rt) or request.url.scheme == "https",
                     max_age=int(SESSION_LIFETIME.total_seconds()))


class NotSignedIn(Exception):
    """Raised by the dependencies; the app turns it into 401 or a login redirect."""


@dataclass(frozen=True)
class Caller:
    who: Principal
    csrf: str | None  # None for bearer tokens (no cookie, so no cross-site risk)


def _from_token(rt: Runtime, token: str, now: datetime) -> Principal | None:
    with rt.uow() as uow:
        row = use_token(uow, token, now)
        if row is None:
            return None
        if row.user_id is not None:
            user = uow.session.get(User, row.user_id)
            return principal(uow, user, now) if user and user.active else None
        return Principal(None, f"token:{row.name}", row.role,
                         None if row.role == "admin" else frozenset())


def caller(request: Request, rt: RuntimeDep) -> Caller:
    now = datetime.now(UTC)
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        who = _from_token(rt, auth[7:].strip(), now)
        if who is None:
            raise HTTPException(401, "unknown or revoked token",
                                headers={"WWW-Authenticate": "Bearer"})
        request.state.actor = who.username
        if who.role == "feed":
            raise HTTPException(403, "feed tokens may only send results")
        return Caller(who, None)
    token = request.cookies.get(cookie_name(rt))
    if token:
        with rt.uow() as uow:
            found = session_user(uow, token, now)
            if found is not None:
                user, row = found
                request.state.actor = user.username
                request.state.launched = row.patient_id is not None  # SMART: one patient
                return Caller(principal(uow, user, now, row.patient_id), row.csrf_token)
    raise NotSignedIn()


CallerDep = Annotated[Caller, Depends(caller)]


def check_csrf(c: Caller, submitted: str | None) -> None:
    """Every form (and cookie-authenticated API write) carries the session's CSRF token."""
    if c.csrf is None:
        return
    if not submitted or not hmac.compare_digest(submitted, c.csrf):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page")


HARDENING = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "base-uri 'none'; "
                               "form-action 'self'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def hardening_headers(path: str, headers: MutableHeaders) -> None:
    """Browser protections on every response (issue 13, finding 9); patient data is never
    cached: everything but the static assets is `no-store`."""
    for name, value in HARDENING.items():
        headers.setdefault(name, value)
    if not path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"
