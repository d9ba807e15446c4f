"""An EHR's signing keys for the tests: key pairs, their public JWKS, signed JWTs."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    @classmethod
    def rsa(cls, kid: str = "rsa-1") -> SigningKey:
        return cls(kid, "RS384", rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def ec(cls, kid: str = "ec-1") -> SigningKey:
        return cls(kid, "ES384", ec.generate_private_key(ec.SECP384R1()))

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.algorithms.RSAAlgorithm if self.alg.startswith("RS") \
            else jwt.algorithms.ECAlgorithm
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return jwk | {"kid": self.kid, "alg": self.alg, "use": "sig"}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(claims, self.private, algorithm=self.alg,
                          headers={"kid": self.kid, "typ": "JWT", **header})


def key_set(*keys: SigningKey) -> str:
    return json.dumps({"keys": [k.public_jwk() for k in keys]})


def hook_claims(issuer: str, audience: str, *, lifetime_s: int = 300,
                issued: float | None = None, **more: Any) -> dict[str, Any]:
    """The claims a CDS client sends (CDS Hooks 2.0): iss, sub, aud, exp, iat, jti."""
    at = time.time() if issued is None else issued
    return {"iss": issuer, "sub": "ehr-cds-client", "aud": audience, "iat": int(at),
            "exp": int(at + lifetime_s), "jti": str(uuid.uuid4()), **more}
