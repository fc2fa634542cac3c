"""A run's kernel folder lives in the repository's state and never outlives the run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from runbook.model.repository import Repository
from tests.builders import write_runbook
from tests.cli.process import RUNBOOK, runbook
from tests.cli.test_run import plan, run_json

pytestmark = pytest.mark.kernel

#: Tells the test where the kernel is, then blocks until the kernel is killed.
BLOCKING_CELL = """\
import os, threading
from pathlib import Path
Path('reached.tmp').write_text(str(os.getpid()))
os.rename('reached.tmp', 'reached')  # runbook: not-mutative (a marker for the test)
threading.Event().wait()
"""


def _wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    """Wait until ``path`` exists (written by the cell), or fail if the run ended first."""
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"the run ended before its cell ran: {process.communicate()}")
        time.sleep(0.05)


def test_a_finished_run_leaves_no_kernel_folder(repo: Repository) -> None:
    write_runbook(repo.runbooks_dir / "quick.ipynb", [("code", "print('hi')", [])])
    code, _, err = run_json(repo, plan(repo, "quick"), "--yes")
    assert code == 0, err
    kernels = repo.state_dir / "kernels"
    assert not kernels.exists() or list(kernels.iterdir()) == []


def test_the_sweep_removes_the_kernel_folder_of_a_killed_run(repo: Repository) -> None:
    write_runbook(repo.runbooks_dir / "block.ipynb", [("code", BLOCKING_CELL, [])])
    plan_id = plan(repo, "block")
    process = subprocess.Popen(
        [RUNBOOK, "run", plan_id, "--yes"],
        cwd=repo.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    kernel_pid = 0
    try:
        _wait_for(repo.runbooks_dir / "reached", process)
        kernel_pid = int((repo.runbooks_dir / "reached").read_text())
        (folder,) = (repo.state_dir / "kernels").iterdir()
        assert (folder / "connection.json").is_file()
        assert any(p.is_socket() for p in folder.iterdir())
        process.send_signal(signal.SIGKILL)
        process.communicate()
        assert folder.exists()  # nothing cleaned up after a kill -9 …
        runs = json.loads(runbook(repo, "runs", "--json").stdout)
        # … until the next command that looks sweeps the interrupted run and its folder.
        assert [(r["id"], r["state"]) for r in runs] == [(folder.name, "interrupted")]
        assert not folder.exists()
    finally:
        process.kill()
        process.communicate()
        if kernel_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(kernel_pid, signal.SIGKILL)


def test_a_kernel_that_dies_while_starting_fails_the_run_cleanly(
    repo: Repository, tmp_path: Path
) -> None:
    spec = tmp_path / "jupyter" / "kernels" / "dies"
    spec.mkdir(parents=True)
    command = ["/bin/sh", "-c", "echo dying >&2; exit 3", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": command, "display_name": "Dies", "language": "python"})
    )
    path = write_runbook(repo.runbooks_dir / "dies.ipynb", [("code", "print('hi')", [])])
    notebook = json.loads(path.read_text())
    notebook["metadata"]["kernelspec"]["name"] = "dies"
    path.write_text(json.dumps(notebook))
    code, outcome, err = run_json(
        repo, plan(repo, "dies"), "--yes", JUPYTER_PATH=str(tmp_path / "jupyter")
    )
    assert (code, outcome["state"]) == (1, "failed"), err
    assert str(outcome["message"]).startswith("the kernel could not start: Kernel died")
    assert "Exception ignored" not in err  # nbclient's exit-time cleanup of a dead kernel
    kernels = repo.state_dir / "kernels"
    assert not kernels.exists() or list(kernels.iterdir()) == []
