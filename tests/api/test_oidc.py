"""OpenID Connect bearers, checked against a real issuer on loopback: discovery, JWKS, and
tokens signed with an RSA key this test makes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient

from runbook.api.app import create_app
from runbook.model.repository import Repository
from tests.api.conftest import Records, with_service
from tests.api.issuer import AUDIENCE, ISSUER_KEY, Issuer, issue, new_key
from tests.localhttp import serving

OTHER_KEY = new_key()


@pytest.fixture
def issuer() -> Iterator[str]:
    with serving(Issuer) as url:
        yield url


@pytest.fixture
def client(repo: Repository, records: Records, issuer: str) -> Iterator[TestClient]:
    configured = with_service(
        repo,
        f'oidc_issuer = "{issuer}"\noidc_audience = "{AUDIENCE}"\n'
        'oidc_user_claim = "email"\n[service.oidc_roles]\nsre = "operator"\n',
    )
    with TestClient(create_app(configured)) as client:
        yield client


token = issue


def get(client: TestClient, bearer: str, path: str = "/plans") -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {bearer}"})


def test_a_valid_token_names_its_user_and_mapped_role(client: TestClient, issuer: str) -> None:
    response = get(client, token(issuer))
    assert response.status_code == 200, response.text
    # The operator role (mapped from the "sre" group) reads the audit log; a viewer could not.
    assert get(client, token(issuer), "/audit").status_code == 200
    viewer = token(issuer, roles="viewer")
    assert get(client, viewer, "/audit").json()["error"]["kind"] == "ForbiddenError"
    assert "dana@example.com (viewer)" in get(client, viewer, "/audit").json()["error"]["message"]


@pytest.mark.parametrize(
    ("claims", "key", "reason"),
    [
        ({"aud": "someone-else"}, ISSUER_KEY, "audience"),
        ({"exp": datetime.now(UTC) - timedelta(minutes=1)}, ISSUER_KEY, "expired"),
        ({}, OTHER_KEY, "signature"),
        ({"iss": "https://impostor.example"}, ISSUER_KEY, "issuer"),
    ],
    ids=["wrong-audience", "expired", "another-key", "wrong-issuer"],
)
def test_an_invalid_token_is_refused(
    client: TestClient, issuer: str, claims: dict[str, Any], key: rsa.RSAPrivateKey, reason: str
) -> None:
    response = get(client, token(issuer, key=key, **claims))
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["kind"] == "CredentialsError"
    assert reason in error["message"].lower()


def _unsigned(claims: dict[str, Any], alg: str) -> str:
    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, default=lambda d: int(d.timestamp())).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': alg, 'kid': 'k1', 'typ': 'JWT'})}.{part(claims)}."


def test_alg_none_and_a_shared_secret_are_refused(client: TestClient, issuer: str) -> None:
    claims = jwt.decode(token(issuer), options={"verify_signature": False})
    for alg in ("none", "None"):
        assert get(client, _unsigned(claims, alg)).status_code == 401
    # HS256 keyed with the issuer's public key (the classic confusion) is refused too.
    public = ISSUER_KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    unsigned = _unsigned(claims, "HS256").rstrip(".")
    mac = hmac.new(public, unsigned.encode(), hashlib.sha256).digest()
    forged = f"{unsigned}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert get(client, forged).status_code == 401


def test_a_token_without_a_known_role_is_forbidden(client: TestClient, issuer: str) -> None:
    response = get(client, token(issuer, roles=["nobody"]))
    assert response.status_code == 403
    assert "no role" in response.json()["error"]["message"]


def test_an_unreachable_issuer_is_the_servers_trouble(repo: Repository, records: Records) -> None:
    with serving(Issuer) as gone:
        pass  # the port is closed again: nothing answers there now
    configured = with_service(repo, f'oidc_issuer = "{gone}"\noidc_audience = "{AUDIENCE}"')
    with TestClient(create_app(configured)) as client:
        response = get(client, token(gone))
    assert response.status_code == 502
    assert response.json()["error"]["kind"] == "EgressError"
