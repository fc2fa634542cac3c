"""The session cookie: Secure and ``__Host-`` on https, and a session ends the moment its
token is revoked (each request authenticates the token again)."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from runbook.api.app import create_app
from runbook.model.repository import Repository
from runbook.model.roles import Role
from runbook.orchestrate.tokens import create_token, revoke_token
from tests.api.conftest import Records
from tests.api.pages.test_page_permissions import sign_in


def test_on_https_the_cookies_are_secure_host_cookies(
    repo: Repository, records: Records, session: Session
) -> None:
    secret = create_token(session, user="rita", role=Role.REVIEWER, created_by="root").secret
    session.commit()
    with TestClient(create_app(repo), base_url="https://runbook.example") as client:
        form = client.get("/ui/login")
        assert "__Host-runbook_csrf=" in form.headers["set-cookie"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        signed = client.post(
            "/ui/login", data={"csrf": csrf.group(1), "token": secret}, follow_redirects=False
        )
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith("__Host-runbook_session=")
        for flag in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
            assert flag.lower() in cookie.lower(), flag
        assert "domain=" not in cookie.lower()


def test_revoking_the_token_ends_its_session(
    repo: Repository, records: Records, session: Session
) -> None:
    made = create_token(session, user="otto", role=Role.OPERATOR, created_by="root")
    session.commit()
    with TestClient(create_app(repo)) as client:
        sign_in(client, made.secret)
        assert client.get("/ui/plans", follow_redirects=False).status_code == 200
        revoke_token(session, made.token.id, by="root")
        session.commit()
        # The service reads a token's record again within TOKEN_CACHE_SECONDS
        # (orchestrate/token_cache.py): the session ends then; the deadline only a hang meets.
        deadline = time.monotonic() + 60
        while (answer := client.get("/ui/plans", follow_redirects=False)).status_code == 200:
            assert time.monotonic() < deadline, "the revoked token's session never ended"
            time.sleep(0.1)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/ui/login?next=/ui/plans"
