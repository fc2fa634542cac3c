"""A real OpenID Connect issuer for tests: discovery and JWKS on loopback, RSA-signed tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.localhttp import JsonHandler

AUDIENCE = "runbook-api"


def new_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


ISSUER_KEY = new_key()


class Issuer(JsonHandler):
    """An OpenID provider's two documents: discovery and the JWKS holding ISSUER_KEY."""

    def answer(self, path: str) -> tuple[int, Any]:
        """Discovery names this server as the issuer; the JWKS has one key, ``k1``."""
        address = self.server.server_address
        assert isinstance(address, tuple)
        base = f"http://127.0.0.1:{address[1]}"
        if path == "/.well-known/openid-configuration":
            return 200, {"issuer": base, "jwks_uri": f"{base}/jwks"}
        if path == "/jwks":
            jwk = json.loads(RSAAlgorithm.to_jwk(ISSUER_KEY.public_key()))
            return 200, {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}
        return 404, {}


def issue(issuer: str, *, key: rsa.RSAPrivateKey = ISSUER_KEY, **claims: Any) -> str:
    """A token of ``issuer`` for :data:`AUDIENCE`, valid five minutes, ``claims`` winning."""
    now = datetime.now(UTC)
    body = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": "u-1",
        "email": "dana@example.com",
        "roles": ["sre"],
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **claims,
    }
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})
