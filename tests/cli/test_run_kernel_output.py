"""What a cell's child processes write to the kernel's descriptors is masked, never raw."""

from __future__ import annotations

import pytest

from runbook.model.repository import Repository
from tests.builders import write_runbook
from tests.cli.process import runbook
from tests.cli.test_run import plan

pytestmark = pytest.mark.kernel

CANARY = "FdCanary-93b2-secret"

CHILDREN_CELL = """\
# runbook: not-mutative (its children only echo)
import os, subprocess
os.system('echo "system-out $DB_PASSWORD"')
subprocess.run(['sh', '-c', 'echo "child-err $DB_PASSWORD" >&2'], check=True)
subprocess.run(['sh', '-c', 'printf "no-newline $DB_PASSWORD"'], check=True)
"""


def test_output_of_a_cells_children_is_masked_on_the_runs_terminal(repo: Repository) -> None:
    write_runbook(
        repo.runbooks_dir / "children.ipynb",
        [("code", "password = ''", ["parameters"]), ("code", CHILDREN_CELL, [])],
        parameters={"password": {"type": "str", "secret": True}},
    )
    plan_id = plan(repo, "children", "-p", "password", "env:DB_PASSWORD")
    done = runbook(repo, "run", plan_id, "--yes", DB_PASSWORD=CANARY)
    assert done.returncode == 0, done.stderr
    assert CANARY not in done.stdout and CANARY not in done.stderr
    # Forwarded, masked, not lost.
    for line in ("system-out ***", "child-err ***", "no-newline ***"):
        assert line in done.stderr, done.stderr
