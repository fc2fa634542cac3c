"""Every page route declares its permission, and a signed-in visitor gets exactly what
their role grants: the API's authorization matrix, for the pages' cookie sessions."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from runbook.api.app import create_app
from runbook.api.pages.safety import CSP, is_page
from runbook.api.permissions import PUBLIC, app_routes, route_permission
from runbook.model.repository import Repository
from runbook.model.roles import ROLE_PERMISSIONS, Permission, Role
from tests.api.conftest import Records, Tokens

#: What each page needs.
EXPECTED = {
    ("GET", "/ui/"): Permission.VIEW,
    ("GET", "/ui/runbooks"): Permission.VIEW,
    ("GET", "/ui/runbooks/{name:path}"): Permission.VIEW,
    ("POST", "/ui/plans"): Permission.PLAN,
    ("GET", "/ui/plans"): Permission.VIEW,
    ("GET", "/ui/plans/{plan_id}"): Permission.VIEW,
    ("POST", "/ui/plans/{plan_id}/reviews"): Permission.REVIEW,
    ("POST", "/ui/plans/{plan_id}/runs"): Permission.RUN,
    ("GET", "/ui/runs"): Permission.VIEW,
    ("GET", "/ui/runs/{run_id}"): Permission.VIEW,
    ("GET", "/ui/runs/{run_id}/events"): Permission.VIEW,
    ("POST", "/ui/runs/{run_id}/gates/{cell}"): Permission.CONFIRM,
    ("GET", "/ui/runs/{run_id}/report"): Permission.VIEW,
    ("GET", "/ui/search"): Permission.VIEW,
    ("GET", "/ui/alerts"): Permission.VIEW,
    ("GET", "/ui/workflow-runs"): Permission.VIEW,
    ("GET", "/ui/workflow-runs/{run_id}"): Permission.VIEW,
    ("GET", "/ui/playbook-runs"): Permission.VIEW,
    ("GET", "/ui/playbook-runs/{run_id}"): Permission.VIEW,
    ("POST", "/ui/playbook-runs/{run_id}/retry"): Permission.RUN,
    ("POST", "/ui/playbook-runs/{run_id}/cancel"): Permission.RUN,
    ("GET", "/ui/audit"): Permission.AUDIT,
    ("GET", "/ui/catalog/{service}/{code}"): Permission.VIEW,
    ("GET", "/ui/login"): PUBLIC,
    ("POST", "/ui/login"): PUBLIC,
    ("POST", "/ui/logout"): PUBLIC,
    ("GET", "/ui/static/{name}"): PUBLIC,
}


def _pages(repo: Repository) -> dict[tuple[str, str], object]:
    return {
        (method, r.path): route_permission(r)
        for r in app_routes(create_app(repo))
        if is_page(getattr(r, "path", ""))
        for method in getattr(r, "methods", None) or ()
    }


def _concrete(path: str, records: Records) -> str:
    return (
        path.replace("{plan_id}", records.plan.id)
        .replace("{run_id}", records.run_id)
        .replace("{name:path}", "restart")
        .replace("{cell}", "1")
        .replace("{service}", "checkout")
        .replace("{code}", "E-DISK")
    )


def sign_in(client: TestClient, secret: str) -> str:
    """Sign ``client`` in with ``secret`` through the form; the session's CSRF token."""
    form = client.get("/ui/login")
    login_csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert login_csrf is not None
    signed = client.post(
        "/ui/login",
        data={"csrf": login_csrf.group(1), "token": secret, "next": "/ui/runbooks"},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    page = client.get("/ui/runbooks")
    found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_every_page_declares_the_permission_it_needs(repo: Repository) -> None:
    assert _pages(repo) == EXPECTED


def test_each_role_gets_what_it_grants_on_every_page(
    repo: Repository, records: Records, tokens: Tokens
) -> None:
    with TestClient(create_app(repo)) as anonymous:
        for (method, path), permission in EXPECTED.items():
            if permission == PUBLIC:
                continue
            answer = anonymous.request(
                method, _concrete(path, records), follow_redirects=False, data={}
            )
            if method == "GET":
                assert answer.status_code == 303, path
                assert answer.headers["location"].startswith("/ui/login?next=")
            else:
                assert answer.status_code in (401, 403), path
            assert answer.headers["content-security-policy"] == CSP
    for role in Role:
        with TestClient(create_app(repo)) as client:
            csrf = sign_in(client, tokens.by_role[role])
            for (method, path), permission in EXPECTED.items():
                if permission == PUBLIC:
                    continue
                allowed = permission in ROLE_PERMISSIONS[role]
                if method == "POST" and allowed:
                    continue  # doing it for real is the browser tests' part
                answer = client.request(
                    method, _concrete(path, records), data={"csrf": csrf}, follow_redirects=False
                )
                if allowed:
                    assert answer.status_code not in (401, 403), (role, method, path)
                else:
                    assert answer.status_code == 403, (role, method, path, answer.status_code)
