"""`sys.exit(0)`, `sys.exit()` and `raise SystemExit` end a run successfully, as in papermill:
the cells after it do not run, and the record, log and report say where and why it stopped.
Any other exit code or message fails the run, as in papermill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook.model.repository import Repository
from tests.cli.process import runbook
from tests.wild.sidebyside import NOTEBOOKS, side_by_side

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

CLEAN = ["sys-exit-0", "sys-exit", "raise-systemexit"]
FAILING = {"sys-exit-1": "SystemExit: 1", "sys-exit-message": "SystemExit: the data is not"}


def test_system_exit_ends_the_run_as_papermill_ends_it(repo: Repository, tmp_path: Path) -> None:
    names = [*CLEAN, *FAILING]
    sources = [NOTEBOOKS / f"{name}.ipynb" for name in names]
    for name, (run, papermill) in zip(names, side_by_side(repo, sources, tmp_path), strict=True):
        assert run.outcome == papermill, name
        # Cells 0 and 1 check, cell 2 exits, cell 3 never runs (in Runbook's plan, the
        # injected parameters are cell 1: the exit is its cell 3).
        assert run.outcome.ran == (0, 1, 2), name
        if name in FAILING:
            assert (run.code, run.outcome.state) == (1, "failed"), name
            assert run.record["message"].startswith(f"cell 3 failed: {FAILING[name]}")
            continue
        assert (run.code, run.outcome.state) == (0, "succeeded"), (name, run.stderr)
        message = run.record["message"]
        assert message.startswith("cell 3 ended the run with SystemExit"), message
        assert message.endswith("; the cells after it were not run")
        listed = runbook(repo, "runs", "--plan", run.plan_id, "--json")
        (stored,) = json.loads(listed.stdout)
        assert (stored["state"], stored["message"]) == ("succeeded", message)
        folder = (repo.root / run.record["notebook"]).parent
        log = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
        finished = {e["cell"]: e["status"] for e in log if e["kind"] == "cell.finished"}
        assert finished == {0: "succeeded", 1: "succeeded", 2: "succeeded", 3: "exited"}
        assert log[-1]["kind"] == "run.finished" and log[-1]["message"] == message
        assert message in (folder / "report.html").read_text()
