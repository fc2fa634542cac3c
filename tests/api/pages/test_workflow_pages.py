"""The workflow run page: its DAG drawn with each task coloured by its state and linked
to its run, with a real workflow run started through the API (real kernels)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from runbook.model.repository import Repository
from tests.api.pages.conftest import PHONE, Served, sign_in
from tests.cli.test_workflow_command import two_step_inputs

pytestmark = [pytest.mark.browser, pytest.mark.kernel, pytest.mark.slow]


def _finished(served: Served, secret: str, run_id: str) -> dict[str, Any]:
    """The workflow run once it is over: a poll of the store's state, bounded by a deadline
    only a hang reaches."""
    deadline = time.monotonic() + 300
    while True:
        shown = httpx.get(
            f"{served.url}/workflow-runs/{run_id}", headers={"Authorization": f"Bearer {secret}"}
        ).json()
        if shown["state"] != "running":
            return dict(shown)
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)


def test_the_dag_shows_each_task_by_state_with_its_run(
    chromium: Any,
    served: Served,
    repo: Repository,
    secrets: dict[str, str],
    screenshots: Path,
) -> None:
    two_step_inputs(repo, "raise SystemExit('not yet')")
    started = httpx.post(
        f"{served.url}/workflows/pair/runs",
        json={"parameters": {"greeting": "hi"}, "date": "2016-01-07"},
        headers={"Authorization": f"Bearer {secrets['olive']}"},
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    done = _finished(served, secrets["olive"], run_id)
    assert done["state"] == "failed"

    page = sign_in(chromium, served, secrets["vic"], viewport=PHONE)
    page.get_by_role("link", name="Workflows").click()
    page.get_by_role("link", name=run_id).click()
    assert page.get_by_test_id("workflow-state").inner_text() == "failed"
    dag = page.get_by_test_id("dag")
    assert dag.locator("g.node").count() == 2
    assert dag.locator("g.node.succeeded[data-task=first]").count() == 1
    assert dag.locator("g.node.failed[data-task=second]").count() == 1
    assert dag.locator("line.edge").count() == 1  # second takes first's notebook
    page.screenshot(path=screenshots / "workflow-run-phone.png", full_page=True)
    first_run = next(t["run"] for t in done["tasks"] if t["key"] == "first")
    dag.locator("g.node[data-task=first] a").click()
    page.wait_for_url(f"{served.url}/ui/runs/{first_run}")
