"""Anonymous visitors, when the service allows them: they read what the API lets them read
and nothing more (no values of private runbooks, no action, no sign-out)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from runbook.api.app import create_app
from runbook.model.repository import Repository
from tests.api.conftest import Records, record_run, with_service
from tests.api.pages.conftest import PHONE, Served, serve

pytestmark = [pytest.mark.browser]


@pytest.fixture
def open_service(repo: Repository, records: Records) -> Iterator[Served]:
    """The app with anonymous access on, over the fixture records."""
    yield from serve(create_app(with_service(repo, "anonymous = true")))


def test_an_anonymous_visitor_reads_but_sees_no_private_value_and_no_action(
    chromium: Any,
    open_service: Served,
    records: Records,
    repo: Repository,
    session: Session,
    screenshots: Path,
) -> None:
    private_run = record_run(session, records.private_plan)
    context = chromium.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{open_service.url}/ui/runbooks")
    assert page.url == f"{open_service.url}/ui/runbooks"  # no sign-in asked
    assert page.get_by_test_id("user").inner_text() == "anonymous"
    assert page.get_by_role("button", name="Sign out").count() == 0
    page.screenshot(path=screenshots / "anonymous-runbooks-phone.png", full_page=True)

    # A public plan's values are shown; a private one's are not, as in the API.
    page.goto(f"{open_service.url}/ui/plans/{records.plan.id}")
    assert "db" in page.locator("table.kv").inner_text()
    assert page.get_by_test_id("approve").count() == 0
    assert page.get_by_test_id("start-run").count() == 0
    page.goto(f"{open_service.url}/ui/plans/{records.private_plan.id}")
    assert "a-42" not in page.content()
    assert "private" in page.locator("table.kv").inner_text()
    page.goto(f"{open_service.url}/ui/runbooks/payroll")
    assert "a-1" not in page.content()  # the parameters cell is hidden too
    assert page.locator("form.plan-form").count() == 0
    api = httpx.get(f"{open_service.url}/plans/{records.private_plan.id}").json()
    assert api["parameters"] != {"account": "a-42"}

    # A private run's events and report are refused; a public run's stream is there.
    refused = page.request.get(f"{open_service.url}/ui/runs/{private_run}/events")
    assert refused.status == 403
    allowed = page.request.get(f"{open_service.url}/ui/runs/{records.run_id}/events")
    assert allowed.status == 200
    # And no action, whatever the form says: an anonymous visitor only reads.
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    plan = page.request.post(
        f"{open_service.url}/ui/plans", form={"runbook": "restart", "csrf": csrf or "x"}
    )
    assert plan.status == 403
    context.close()
