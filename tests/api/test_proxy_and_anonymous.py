"""The trusted proxy's header, believed only from the proxy; anonymous readers, off by default
and blind to the parameters, outputs and logs of private runbooks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from runbook.api.app import create_app
from runbook.errors import ConfigError
from runbook.model.redaction import HIDDEN
from runbook.model.repository import Repository
from runbook.model.roles import Role
from runbook.orchestrate.tokens import create_token
from tests.api.conftest import Records, Tokens, record_run, with_service

PROXY_CONFIG = 'proxy_header = "X-Forwarded-User"\ntrusted_proxies = ["10.0.0.1", "fd00::/8"]\n'


@pytest.fixture
def proxied(repo: Repository, records: Records) -> Iterator[TestClient]:
    app = create_app(with_service(repo, PROXY_CONFIG + 'proxy_role = "operator"'))
    with TestClient(app, client=("10.0.0.1", 5000)) as client:
        yield client


def test_the_trusted_proxy_names_the_user(proxied: TestClient) -> None:
    response = proxied.get("/me", headers={"X-Forwarded-User": "erin@example.com"})
    assert response.status_code == 200, response.text
    me = response.json()
    assert (me["user"], me["role"], me["kind"]) == ("erin@example.com", "operator", "proxy")


def test_a_forged_header_from_elsewhere_is_not_accepted(proxied: TestClient) -> None:
    for peer in ("10.0.0.2", "127.0.0.1", "testclient", "::ffff:10.0.0.2"):
        forged = TestClient(proxied.app, client=(peer, 5000))
        response = forged.get("/me", headers={"X-Forwarded-User": "admin"})
        assert response.status_code == 401, peer
        assert response.json()["error"]["kind"] == "CredentialsError"
    # An IPv4-mapped address of the proxy, and an address in a trusted network, are the proxy.
    for peer in ("::ffff:10.0.0.1", "fd00::5"):
        mapped = TestClient(proxied.app, client=(peer, 5000))
        assert mapped.get("/me", headers={"X-Forwarded-User": "erin"}).status_code == 200


def test_a_bearer_wins_over_the_proxy_header(proxied: TestClient, tokens: Tokens) -> None:
    headers = {**Tokens.header(tokens.by_role[Role.VIEWER]), "X-Forwarded-User": "erin"}
    me = proxied.get("/me", headers=headers).json()
    assert (me["user"], me["kind"]) == ("viewer-user", "token")


def test_an_unprintable_proxy_user_is_refused(proxied: TestClient) -> None:
    response = proxied.get("/me", headers={"X-Forwarded-User": "a\u200bdmin".encode()})
    assert response.status_code == 422
    assert response.json()["error"]["kind"] == "IdentityError"
    named = proxied.get("/me", headers={"X-Forwarded-User": "j\u00f6rg".encode()})
    assert named.json()["user"] == "j\u00f6rg"


def test_proxy_settings_are_checked_when_the_service_starts(repo: Repository) -> None:
    for table, key in (
        ('trusted_proxies = ["not-an-address"]', "service.trusted_proxies"),
        ('proxy_role = "root"', "service.proxy_role"),
        ('oidc_issuer = "http://issuer.example"', "service.oidc_issuer"),
        ("anonymous = 1", "service.anonymous"),
    ):
        configured = with_service(repo, table)
        with pytest.raises(ConfigError, match=key):
            create_app(configured)
        (repo.root / "runbook.toml").write_text(
            (repo.root / "runbook.toml").read_text().split("\n[service]")[0]
        )


def test_anonymous_is_off_by_default(app_client: TestClient) -> None:
    response = app_client.get("/runbooks")
    assert response.status_code == 401


@pytest.fixture
def anonymous(repo: Repository, records: Records) -> Iterator[TestClient]:
    with TestClient(create_app(with_service(repo, "anonymous = true"))) as client:
        yield client


def test_anonymous_readers_do_not_see_private_values(
    anonymous: TestClient, records: Records, repo: Repository, session: object
) -> None:
    me = anonymous.get("/me").json()
    assert (me["user"], me["role"], me["kind"], me["permissions"]) == (
        "anonymous",
        "viewer",
        "anonymous",
        ["view"],
    )
    plan = anonymous.get(f"/plans/{records.private_plan.id}").json()
    assert plan["parameters"] == {"account": HIDDEN} and plan["redacted"] is True
    assert "a-42" not in anonymous.get("/plans").text
    public = anonymous.get(f"/plans/{records.plan.id}").json()
    assert public["parameters"] == {"service": "db"} and "redacted" not in public
    runbook = anonymous.get("/runbooks/payroll").json()
    assert runbook["parameters"] == {}
    assert runbook["cells"][0]["source"] == HIDDEN
    assert "a-1" not in anonymous.get("/runbooks").text
    # The diff shows the values it injected: hidden for the private plan, shown for the other.
    diff = anonymous.get(f"/plans/{records.private_plan.id}/diff").json()
    assert diff["redacted"] is True and diff["lines"] == [] and "a-42" not in str(diff)
    assert any(
        "'db'" in line for line in anonymous.get(f"/plans/{records.plan.id}/diff").json()["lines"]
    )


def test_anonymous_readers_do_not_see_private_run_logs(
    anonymous: TestClient, records: Records, session: object, tokens: Tokens
) -> None:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    run_id = record_run(session, records.private_plan, error="KeyError: 'a-42'")
    cells = anonymous.get(f"/runs/{run_id}/cells").json()
    assert cells["cells"][0]["error"] == HIDDEN and cells["redacted"] is True
    assert "a-42" not in anonymous.get("/runs").text
    assert "a-42" not in anonymous.get(f"/runs/{run_id}").text
    # Someone identified sees it all.
    secret = create_token(session, user="ops", role=Role.VIEWER, created_by="root").secret
    seen = anonymous.get(f"/runs/{run_id}/cells", headers=Tokens.header(secret)).json()
    assert seen["cells"][0]["error"] == "KeyError: 'a-42'"
