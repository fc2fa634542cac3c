"""`--timeout` fails the cell, never the runner: a cell past it is interrupted and the run
ends `failed`, saying which cell timed out; the same for workflow tasks and playbook steps."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from runbook.model.repository import Repository
from tests.cli.process import runbook
from tests.wild.sidebyside import NOTEBOOKS, side_by_side, without_reports

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

#: Its cell 1 sleeps an hour: the timeout is the event these tests wait on.
BLOCKS = NOTEBOOKS / "blocks-forever.ipynb"


def test_a_cell_past_its_timeout_fails_the_run(repo: Repository, tmp_path: Path) -> None:
    without_reports(repo)
    ((run, papermill),) = side_by_side(
        repo, [BLOCKS], tmp_path, ("--timeout", "1"), execution_timeout=1
    )
    assert (run.code, run.outcome.state, papermill.state) == (1, "failed", "failed"), run.stderr
    assert run.outcome.ran == papermill.ran == (0, 1)  # cell 2 never ran
    assert run.outcome.outputs[0] == papermill.outputs[0] == "waiting for the feed\n"
    # On purpose: Runbook interrupts the cell (papermill leaves it to the kernel's shutdown).
    assert run.outcome.outputs[1] == "KeyboardInterrupt: "
    assert run.record["message"] == "cell 1 timed out after 1 s"
    assert "internal error" not in run.stderr
    (stored,) = json.loads(runbook(repo, "runs", "--plan", run.plan_id, "--json").stdout)
    assert (stored["state"], stored["message"]) == ("failed", "cell 1 timed out after 1 s")


WORKFLOW = """
workflows:
  - name: feed
    notebooks:
      wait:
        filename: blocks-forever.ipynb
        timeout: 1
"""

PLAYBOOK = """
name: feed
version: "1"
inventory: {targets: [{name: web1}]}
steps:
  - {name: wait, runbook: runbooks/blocks-forever.ipynb, timeout: 1}
"""


def test_workflow_tasks_and_playbook_steps_time_out_the_same_way(repo: Repository) -> None:
    without_reports(repo)
    shutil.copyfile(BLOCKS, repo.root / "workflows" / BLOCKS.name)
    (repo.root / "workflows" / "feed.yml").write_text(WORKFLOW)
    shutil.copyfile(BLOCKS, repo.runbooks_dir / BLOCKS.name)
    (repo.root / "playbooks" / "feed.yml").write_text(PLAYBOOK)
    imported = runbook(repo, "playbook", "import", "playbooks/feed.yml")
    assert imported.returncode == 0, imported.stderr
    with ThreadPoolExecutor(2) as pool:
        workflow = pool.submit(runbook, repo, "workflow", "run", "feed", "--json")
        playbook = pool.submit(runbook, repo, "playbook", "run", "feed", "--yes", "--json")
    flow = workflow.result()
    assert flow.returncode == 1, flow.stderr
    (task,) = json.loads(flow.stdout)["tasks"]
    assert task["state"] == "failed"
    assert task["message"] == f"run {task['run']} failed: cell 1 timed out after 1 s"
    fleet = playbook.result()
    assert fleet.returncode == 1, fleet.stderr
    (target,) = json.loads(fleet.stdout)["targets"]
    assert target["state"] == "FAILED"
    (step,) = target["results"]
    assert (step["status"], step["state"]) == ("failed", "failed")
    assert step["message"] == f"run {step['run']} failed: cell 1 timed out after 1 s"
