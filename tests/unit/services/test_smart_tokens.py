"""The pure parts of the SMART launch: the PKCE challenge (RFC 7636's own example) and the
check of the EHR's id token (signature, audience, issuer, expiry against `now`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from monitor.services.access.smart import UNKNOWN_USER, LaunchRefused, code_challenge, ehr_user

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
KEY = rsa.generate_private_key(65537, 2048)
OTHER = rsa.generate_private_key(65537, 2048)


def key_set(key: rsa.RSAPrivateKey) -> dict[str, list[dict[str, str]]]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**public, "kid": "k1", "alg": "RS256"}]}


def id_token(key: rsa.RSAPrivateKey = KEY, aud: str = "sodium", expires: timedelta =
             timedelta(minutes=5), **claims: object) -> str:
    body = {"iss": "https://ehr.example/auth", "aud": aud, "sub": "u1",
            "fhirUser": "Practitioner/7", "name": "Dr. Weber",
            "exp": int((NOW + expires).timestamp()), **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})


def test_the_challenge_is_rfc_7636s_example() -> None:
    assert code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_a_verified_id_token_names_the_fhir_user() -> None:
    who = ehr_user(id_token(), key_set(KEY), "sodium", "https://ehr.example/auth", NOW)
    assert (who.fhir_user, who.name) == ("Practitioner/7", "Dr. Weber")


@pytest.mark.parametrize(("token", "issuer", "why"), [
    (id_token(OTHER), "https://ehr.example/auth", "does not verify"),
    (id_token(aud="someone-else"), "https://ehr.example/auth", "does not verify"),
    (id_token(), "https://other.example", "does not verify"),
    (id_token(expires=timedelta(minutes=-5)), "https://ehr.example/auth", "expired"),
])
def test_a_forged_misaddressed_or_expired_id_token_is_refused(token: str, issuer: str,
                                                               why: str) -> None:
    with pytest.raises(LaunchRefused, match=why):
        ehr_user(token, key_set(KEY), "sodium", issuer, NOW)


def test_without_an_id_token_the_user_is_unknown() -> None:
    assert ehr_user(None, None, "sodium", None, NOW).fhir_user == UNKNOWN_USER


def test_an_id_token_without_a_kid_verifies_against_any_key_of_the_set() -> None:
    both = {"keys": [*key_set(OTHER)["keys"], *key_set(KEY)["keys"]]}
    token = jwt.encode({"aud": "sodium", "sub": "u1", "exp": int(NOW.timestamp()) + 60},
                       KEY, algorithm="RS256")
    assert ehr_user(token, both, "sodium", None, NOW).fhir_user == "u1"
