"""Every route, role and identity kind: 401, 403 or through, as declared.

Identities: an API token, an OpenID Connect bearer and a trusted proxy's header for each
role; anonymous (on a service that allows it); and what must prove nobody: an expired
token, a revoked token, no credentials, and a proxy header forged from an untrusted peer.
The alert webhooks are authenticated by their source's secret alone: every user identity
is refused there (401), and the source's bearer is refused everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from runbook.api.app import create_app
from runbook.api.pages.safety import is_page
from runbook.api.permissions import PUBLIC, SOURCE_SECRET, app_routes, route_permission
from runbook.model.catalog.webhook_auth import hmac_hex
from runbook.model.repository import Repository, find_repository
from runbook.model.roles import ROLE_PERMISSIONS, Permission, Role
from tests.api.conftest import Records, Tokens, with_service
from tests.api.issuer import AUDIENCE, Issuer, issue
from tests.localhttp import serving

PROXY = ("10.9.8.7", 41000)  # inside trusted_proxies
SOURCE_BEARER = "matrix-source-secret"
ELSEWHERE = ("192.0.2.1", 41000)  # outside it


@dataclass(frozen=True)
class Caller:
    """One identity: how it calls, and what the service should make of it."""

    name: str
    headers: dict[str, str]
    peer: tuple[str, int] = ELSEWHERE
    role: Role | None = None  # None: proves nobody
    anonymous: bool = False
    source: bool = False  # holds the alert source's secret


def expected(caller: Caller, permission: Permission | str) -> str:
    """``unauthenticated``, ``forbidden`` or ``through``."""
    if permission == SOURCE_SECRET:
        return "through" if caller.source else "unauthenticated"
    if caller.source:
        return "unauthenticated"  # a source's secret is no user's token
    if caller.anonymous:
        return "through" if permission is Permission.VIEW else "forbidden"
    if caller.role is None:
        return "unauthenticated"
    return "through" if permission in ROLE_PERMISSIONS[caller.role] else "forbidden"


def concrete(path: str, records: Records) -> str:
    """A route's path with real ids in it."""
    return (
        path.replace("{plan_id}", records.plan.id)
        .replace("{run_id}", records.run_id)
        .replace("{name:path}", "restart")
        .replace("{name}", "restart")
        .replace("{source}", _source_name(path))
        .replace("{service}", "checkout")
        .replace("{code}", "E-DISK")
    )


def _source_name(path: str) -> str:
    kind = path.split("/")[2] if path.startswith("/alerts/") else ""
    return "prod" if kind == "alertmanager" else f"prod-{kind}"


def outcome(status: int) -> str:
    assert status < 500, status
    return {401: "unauthenticated", 403: "forbidden"}.get(status, "through")


@pytest.fixture
def issuer() -> Iterator[str]:
    with serving(Issuer) as url:
        yield url


def _service(repo: Repository, issuer: str, role: Role, anonymous: bool) -> Repository:
    with_service(
        repo,
        f'oidc_issuer = "{issuer}"\noidc_audience = "{AUDIENCE}"\n'
        f'proxy_header = "X-Forwarded-User"\ntrusted_proxies = ["10.0.0.0/8"]\n'
        f'proxy_role = "{role.value}"\nanonymous = {str(anonymous).lower()}\n'
        # Every route and caller sends hundreds of bad credentials from one address: the
        # throttle (tests/api/test_operations.py) would answer them all with a 429.
        "failed_auth_limit = 0",
    )
    # An alert source of every kind, all named prod, with one bearer secret.
    sources = "".join(
        f'[catalog.sources.prod-{kind}]\nkind = "{kind}"\nsecret = "{SOURCE_BEARER}"\n'
        + ('labels = { service = "service" }\n' if kind == "generic" else "")
        for kind in ("grafana", "generic", "pagerduty")
    )
    config = repo.root / "runbook.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + f'\n[catalog]\nbase_url = "http://runbook.test"\n[catalog.sources.prod]\n'
        f'kind = "alertmanager"\nsecret = "{SOURCE_BEARER}"\n{sources}',
        "utf-8",
    )
    return find_repository(repo.root)


def callers(tokens: Tokens, issuer: str, role: Role) -> list[Caller]:
    """The callers that prove ``role`` (or nobody) on a service whose proxy_role is ``role``."""
    bearer = Tokens.header
    return [
        Caller(f"token-{role}", bearer(tokens.by_role[role]), role=role),
        Caller(f"oidc-{role}", bearer(issue(issuer, roles=[role.value])), role=role),
        Caller(f"proxy-{role}", {"X-Forwarded-User": f"{role}@proxy"}, PROXY, role=role),
        Caller("expired-token", bearer(tokens.expired)),
        Caller("revoked-token", bearer(tokens.revoked)),
        Caller("no-credentials", {}),
        Caller("forged-proxy-header", {"X-Forwarded-User": "admin"}, ELSEWHERE),
        Caller(
            "alert-source",
            # A bearer, and PagerDuty's signature of the empty body these requests carry.
            bearer(SOURCE_BEARER) | {"X-PagerDuty-Signature": f"v1={hmac_hex(SOURCE_BEARER, b'')}"},
            source=True,
        ),
    ]


def _check(app: FastAPI, records: Records, people: list[Caller]) -> list[str]:
    wrong = []
    for route in app_routes(app):
        permission = route_permission(route)
        if permission == PUBLIC or is_page(route.path):
            continue  # pages take a session cookie, not these headers: tests/api/pages
        assert isinstance(permission, Permission) or permission == SOURCE_SECRET, route.path
        for caller in people:
            client = TestClient(app, client=caller.peer)  # the app's lifespan already ran
            url = concrete(route.path, records)
            for method in route.methods or ("WEBSOCKET",):
                status = (
                    _handshake(client, url, caller.headers)
                    if method == "WEBSOCKET"
                    else client.request(method, url, headers=caller.headers).status_code
                )
                got, want = outcome(status), expected(caller, permission)
                if got != want:
                    wrong.append(f"{method} {route.path} as {caller.name}: {got}, not {want}")
    return wrong


def _handshake(client: TestClient, url: str, headers: dict[str, str]) -> int:
    """The HTTP status a WebSocket route answers its handshake with (101: accepted)."""
    try:
        with client.websocket_connect(url, headers=headers):
            return 101
    except WebSocketDenialResponse as denied:
        return int(denied.status_code)


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_every_route_role_and_identity_kind(
    repo: Repository, records: Records, tokens: Tokens, issuer: str, role: Role
) -> None:
    app = create_app(_service(repo, issuer, role, anonymous=False))
    with TestClient(app):
        assert _check(app, records, callers(tokens, issuer, role)) == []


def test_anonymous_callers_only_read(
    repo: Repository, records: Records, tokens: Tokens, issuer: str
) -> None:
    app = create_app(_service(repo, issuer, Role.VIEWER, anonymous=True))
    people = [
        Caller("anonymous", {}, anonymous=True),
        # A forged header from elsewhere is ignored: the caller is anonymous, not admin.
        Caller("forged-proxy-header", {"X-Forwarded-User": "admin"}, ELSEWHERE, anonymous=True),
        # Bad credentials never fall back to anonymous.
        Caller("expired-token", Tokens.header(tokens.expired)),
        Caller("revoked-token", Tokens.header(tokens.revoked)),
    ]
    with TestClient(app):
        assert _check(app, records, people) == []
