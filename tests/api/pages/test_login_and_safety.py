"""Signing in and the pages' safety, in the system's Chromium: the session cookie, security
headers, CSRF on every form and action, signing out, and a viewer who sees no action (and
whom the API refuses anyway)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from runbook.api.pages.safety import CSP
from runbook.model.repository import Repository
from runbook.orchestrate.planning import plan_runbook
from tests.api.pages.conftest import PHONE, Served, sign_in
from tests.builders import write_runbook

pytestmark = [pytest.mark.browser]


@pytest.fixture
def plan_id(repo: Repository, session: Session) -> str:
    """A plan of runbooks/restart.ipynb by olive, waiting for review."""
    path = write_runbook(
        repo.runbooks_dir / "restart.ipynb",
        [
            ("markdown", "# Restart\nRestarts **one** service.", []),
            ("code", "service = 'web'", ["parameters"]),
            ("code", "print(service)", []),
        ],
        parameters={"service": {"type": "str", "help": "The service to restart."}},
        title="Restart a service",
    )
    plan = plan_runbook(session, repo, path, {"service": "db"}, planner="olive")
    session.commit()
    return plan.id


def test_sign_in_opens_a_strict_session_and_every_page_sets_security_headers(
    chromium: object, served: Served, secrets: dict[str, str], screenshots: Path
) -> None:
    page = sign_in(chromium, served, secrets["rita"])
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["runbook_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert secrets["rita"] not in session["value"]  # the cookie holds an id, not the token
    response = page.goto(f"{served.url}/ui/runbooks")
    headers = response.headers
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert page.get_by_test_id("user").inner_text() == "rita"
    page.screenshot(path=screenshots / "runbooks-desktop.png", full_page=True)


def test_a_wrong_token_is_refused_on_the_form(
    chromium: object, served: Served, screenshots: Path
) -> None:
    context = chromium.new_context(viewport=PHONE)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{served.url}/ui/login")
    page.fill("#token", "rbk_not-a-token")
    page.click("button[type=submit]")
    assert "not known" in page.get_by_role("alert").inner_text()
    assert "runbook_session" not in {c["name"] for c in context.cookies()}
    page.screenshot(path=screenshots / "login-refused-phone.png", full_page=True)
    context.close()


def test_a_visitor_without_a_session_is_sent_to_sign_in(chromium: object, served: Served) -> None:
    context = chromium.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{served.url}/ui/runbooks")
    assert page.url == f"{served.url}/ui/login?next=/ui/runbooks"
    context.close()


def test_a_form_post_without_the_csrf_token_is_refused(
    chromium: object, served: Served, secrets: dict[str, str], plan_id: str
) -> None:
    page = sign_in(chromium, served, secrets["rita"])
    url = f"{served.url}/ui/plans/{plan_id}/reviews"
    # The browser's own session cookie goes with these requests: only the token is missing.
    missing = page.request.post(url, form={"verdict": "approve"})
    assert missing.status == 403
    assert "CSRF" in missing.text()
    wrong = page.request.post(url, form={"verdict": "approve", "csrf": "forged"})
    assert wrong.status == 403
    page.goto(f"{served.url}/ui/plans/{plan_id}")
    assert page.get_by_test_id("review").count() == 0  # nothing was recorded
    page.fill("#comment", "looks right")
    page.get_by_test_id("approve").click()
    assert page.get_by_test_id("review").inner_text().startswith("approve")


def test_a_viewer_sees_no_action_and_the_api_refuses_it_anyway(
    chromium: object, served: Served, secrets: dict[str, str], plan_id: str, screenshots: Path
) -> None:
    page = sign_in(chromium, served, secrets["vic"], viewport=PHONE)
    page.goto(f"{served.url}/ui/plans/{plan_id}")
    page.screenshot(path=screenshots / "plan-viewer-phone.png", full_page=True)
    assert page.get_by_test_id("plan-status").is_visible()
    for action in ("approve", "reject", "start-run"):
        assert page.get_by_test_id(action).count() == 0
    page.goto(f"{served.url}/ui/runbooks/restart")
    assert page.locator("form.plan-form").count() == 0
    # The page's own action, with the viewer's valid CSRF token: refused by the role.
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    refused = page.request.post(
        f"{served.url}/ui/plans/{plan_id}/reviews", form={"verdict": "approve", "csrf": csrf}
    )
    assert refused.status == 403
    # And the API, with the viewer's token.
    api = httpx.post(
        f"{served.url}/plans/{plan_id}/reviews",
        json={"verdict": "approve"},
        headers={"Authorization": f"Bearer {secrets['vic']}"},
    )
    assert api.status_code == 403
    assert api.json()["error"]["kind"] == "ForbiddenError"


def test_signing_out_ends_the_session(
    chromium: object, served: Served, secrets: dict[str, str]
) -> None:
    page = sign_in(chromium, served, secrets["olive"])
    old = {c["name"]: c["value"] for c in page.context.cookies()}["runbook_session"]
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{served.url}/ui/login")
    page.goto(f"{served.url}/ui/runbooks")
    assert page.url.startswith(f"{served.url}/ui/login")
    # The old session id is dead on the server, not only forgotten by the browser.
    again = httpx.get(
        f"{served.url}/ui/runbooks", cookies={"runbook_session": old}, follow_redirects=False
    )
    assert again.status_code == 303


def test_no_approve_button_on_ones_own_plan(
    chromium: object, served: Served, secrets: dict[str, str], repo: Repository, session: Session
) -> None:
    """An admin may plan and review, but never approve what they planned (the core refuses
    it too): the button is not there."""
    path = repo.runbooks_dir / "check.ipynb"
    write_runbook(path, [("code", "print('ok')", [])], title="Check")
    own = plan_runbook(session, repo, path, {}, planner="ada")
    session.commit()
    page = sign_in(chromium, served, secrets["ada"])
    page.goto(f"{served.url}/ui/plans/{own.id}")
    assert page.get_by_test_id("approve").count() == 0
    assert "someone else reviews it" in page.content()
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    refused = page.request.post(
        f"{served.url}/ui/plans/{own.id}/reviews", form={"verdict": "approve", "csrf": csrf}
    )
    assert refused.status == 403
