"""The playbook run page: targets by batch and state, a progress bar, and the failed
targets retried from the page as a new run (a real fleet run in the server's background)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from runbook.model.repository import Repository
from tests.api.pages.conftest import PHONE, Served, sign_in
from tests.cli.test_playbook_command import write

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _call(served: Served, secret: str, method: str, path: str, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {secret}"}
    answer = httpx.request(method, f"{served.url}{path}", json=body, headers=headers)
    assert answer.status_code < 300, answer.text
    return answer.json()


def _finished(served: Served, secret: str, run_id: str) -> dict[str, Any]:
    """The playbook run once it is over: a poll of the store's state, bounded by a deadline
    only a hang reaches."""
    deadline = time.monotonic() + 300
    while True:
        shown = _call(served, secret, "GET", f"/playbook-runs/{run_id}")
        if shown["state"] != "running":
            return dict(shown)
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)


def test_the_grid_shows_targets_by_state_and_failed_ones_are_retried_from_the_page(
    chromium: Any, served: Served, repo: Repository, secrets: dict[str, str], screenshots: Path
) -> None:
    path = write(repo)
    _call(served, secrets["ada"], "POST", "/playbooks/import", {"path": path})
    plan = _call(served, secrets["olive"], "POST", "/playbooks/web/plans", {"parameters": {}})
    (repo.root / "fail-web2").write_text("")
    run = _call(served, secrets["olive"], "POST", "/playbooks/web/runs", {"plan": plan["id"]})
    assert _finished(served, secrets["olive"], run["id"])["state"] == "failed"

    # A viewer sees the grid but no retry button.
    viewer = sign_in(chromium, served, secrets["vic"], viewport=PHONE)
    viewer.goto(f"{served.url}/ui/playbook-runs/{run['id']}")
    assert viewer.locator("li.target").count() == 4
    assert viewer.locator("li.target.failed[data-target=web2]").count() == 1
    assert viewer.get_by_test_id("progress").get_attribute("value") == "4"
    assert viewer.get_by_test_id("retry").count() == 0
    viewer.screenshot(path=screenshots / "playbook-run-phone.png", full_page=True)

    # The operator retries the failed target: a new run of web2 only.
    (repo.root / "fail-web2").unlink()
    operator = sign_in(chromium, served, secrets["olive"])
    operator.goto(f"{served.url}/ui/playbook-runs/{run['id']}")
    operator.get_by_test_id("retry").click()
    operator.wait_for_url(f"{served.url}/ui/playbook-runs/**")
    retry_id = operator.url.rsplit("/", 1)[1]
    assert retry_id != run["id"]
    done = _finished(served, secrets["olive"], retry_id)
    assert done["state"] == "succeeded" and done["retry_of"] == run["id"]
    operator.goto(f"{served.url}/ui/playbook-runs/{retry_id}")
    assert [t.get_attribute("data-target") for t in operator.locator("li.target").all()] == ["web2"]
    operator.screenshot(path=screenshots / "playbook-retry-desktop.png", full_page=True)
