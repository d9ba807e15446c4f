"""A small EHR for the SMART launch tests, on 127.0.0.1 at a free port: its FHIR base URL
(the launch's `iss`) is also its authorization server. It checks what a SMART server
checks (client id, redirect URI, aud, PKCE S256) and signs RS256 id tokens; its signed-in
user approves every launch. No network beyond localhost."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass
class Ehr:
    client_id: str
    redirect_uri: str
    launches: dict[str, str]  # launch context -> the patient's FHIR id
    patients: dict[str, list[dict[str, str]]]  # FHIR id -> its identifiers (system, value)
    user: str = "Practitioner/dr-weber"
    user_name: str = "Dr. Anna Weber"
    base: str = ""
    key: Any = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> its grant
    tokens: dict[str, str] = field(default_factory=dict)  # access token -> FHIR id
    refused: list[str] = field(default_factory=list)  # why each refused request was
    forger: Any = None  # a key to sign id tokens with instead of the published one

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": "ehr-1", "alg": "RS256", "use": "sig"}]}

    def id_token(self, sub: str) -> str:
        now = int(time.time())
        claims = {"iss": self.base, "aud": self.client_id, "sub": sub,
                  "fhirUser": f"{self.base}/{self.user}", "name": self.user_name,
                  "iat": now, "exp": now + 300}
        return jwt.encode(claims, self.forger or self.key, algorithm="RS256",
                          headers={"kid": "ehr-1"})


def challenge(verifier: str) -> str:
    """RFC 7636 S256, computed here on its own (not the app's function)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class _Handler(BaseHTTPRequestHandler):
    ehr: Ehr

    def log_message(self, *_: Any) -> None:
        return None

    def _send(self, status: int, body: dict[str, Any], location: str | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, status: int, error: str, why: str) -> None:
        self.ehr.refused.append(why)
        self._send(status, {"error": error, "error_description": why})

    def do_GET(self) -> None:
        ehr, url = self.ehr, urlsplit(self.path)
        path = url.path.removeprefix("/fhir")
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if path == "/.well-known/smart-configuration":
            self._send(200, {
                "issuer": ehr.base, "jwks_uri": f"{ehr.base}/jwks",
                "authorization_endpoint": f"{ehr.base}/authorize",
                "token_endpoint": f"{ehr.base}/token",
                "code_challenge_methods_supported": ["S256"],
                "capabilities": ["launch-ehr", "client-public", "context-ehr-patient",
                                 "sso-openid-connect"]})
        elif path == "/jwks":
            self._send(200, ehr.jwks())
        elif path == "/authorize":
            self._authorize(q)
        elif path.startswith("/Patient/"):
            fhir_id = path.removeprefix("/Patient/")
            bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if ehr.tokens.get(bearer) != fhir_id:
                self._refuse(401, "invalid_token", "Patient read without its launch's token")
                return
            self._send(200, {"resourceType": "Patient", "id": fhir_id,
                             "identifier": ehr.patients[fhir_id]})
        else:
            self._send(404, {"error": "not found"})

    def _authorize(self, q: dict[str, str]) -> None:
        ehr = self.ehr
        checks = [(q.get("response_type") == "code", "response_type"),
                  (q.get("client_id") == ehr.client_id, "client_id"),
                  (q.get("redirect_uri") == ehr.redirect_uri, "redirect_uri"),
                  (q.get("aud") == ehr.base, "aud"),
                  (q.get("launch") in ehr.launches, "launch"),
                  ("launch" in q.get("scope", "").split(), "scope"),
                  (q.get("code_challenge_method") == "S256", "code_challenge_method"),
                  (bool(q.get("code_challenge")), "code_challenge"),
                  (bool(q.get("state")), "state")]
        wrong = [name for ok, name in checks if not ok]
        if wrong:
            self._refuse(400, "invalid_request", f"authorize: wrong {', '.join(wrong)}")
            return
        code = secrets.token_urlsafe(16)  # the signed-in EHR user approves at once
        ehr.codes[code] = {"challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"],
                           "patient": ehr.launches[q["launch"]]}
        back = urlencode({"code": code, "state": q["state"]})
        self._send(302, {}, f"{q['redirect_uri']}?{back}")

    def do_POST(self) -> None:
        ehr = self.ehr
        if urlsplit(self.path).path != "/fhir/token":
            self._send(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        grant = ehr.codes.pop(form.get("code", ""), None)  # a code is good once
        if grant is None or form.get("grant_type") != "authorization_code":
            self._refuse(400, "invalid_grant", "token: unknown or used code")
        elif form.get("client_id") != ehr.client_id or \
                form.get("redirect_uri") != grant["redirect_uri"]:
            self._refuse(400, "invalid_grant", "token: wrong client_id or redirect_uri")
        elif challenge(form.get("code_verifier", "")) != grant["challenge"]:
            self._refuse(400, "invalid_grant", "token: code_verifier does not match")
        else:
            access = secrets.token_urlsafe(24)
            ehr.tokens[access] = grant["patient"]
            self._send(200, {"access_token": access, "token_type": "Bearer",
                             "expires_in": 300, "scope": "launch openid fhirUser "
                             "patient/Patient.read", "patient": grant["patient"],
                             "id_token": ehr.id_token("dr-weber")})


@contextmanager
def running(ehr: Ehr) -> Iterator[Ehr]:
    """The EHR serving on a free localhost port; `ehr.base` is its FHIR base URL."""
    handler = type("Handler", (_Handler,), {"ehr": ehr})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ehr.base = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ehr
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
