"""Lenient where nbclient is lenient: metadata nbformat's validator rejects but nbclient runs
is accepted with one warning line; only what cannot be executed is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from runbook.model.repository import Repository
from tests.cli.process import runbook
from tests.wild.sidebyside import NOTEBOOKS, side_by_side, through_nbclient, without_reports

pytestmark = pytest.mark.kernel

LENIENT = {
    "kernelspec-without-name": (
        "runbook: warning: runbooks/kernelspec-without-name.ipynb: nbformat's validator rejects it "
        "('name' is a required property at metadata.kernelspec); read as nbclient runs it: "
        "metadata.kernelspec names no kernel: the default kernel, python3\n"
    ),
    "unknown-keys": (
        "runbook: warning: runbooks/unknown-keys.ipynb: nbformat's validator rejects it "
        "(Additional properties are not allowed ('worksheets' was unexpected)); read as "
        "nbclient runs it: "
        "unknown keys dropped (worksheets, cells[0].collapsed, cells[1].outputs[0].metadata)\n"
    ),
}


def test_what_nbclient_runs_is_run_with_one_warning(repo: Repository, tmp_path: Path) -> None:
    without_reports(repo)
    sources = [NOTEBOOKS / f"{name}.ipynb" for name in LENIENT]
    pairs = side_by_side(repo, sources, tmp_path, through=through_nbclient)
    for (name, warning), (run, nbclient) in zip(LENIENT.items(), pairs, strict=True):
        assert run.plan_stderr == warning
        assert run.code == 0, run.stderr
        assert run.outcome == nbclient and nbclient.state == "succeeded", name
        plan = repo.root / "runs" / "plans" / f"{run.plan_id}.ipynb"
        planned = nbformat.read(plan, as_version=nbformat.NO_CONVERT)
        nbformat.validate(planned)  # what was repaired is in the plan a reviewer sees
        assert planned.metadata.kernelspec.name == "python3"
    # On purpose: papermill refuses a kernelspec without a name; nbclient and Runbook do not.
    assert pairs[0][1].outputs[0] == "hello from the default kernel\n"


def test_what_cannot_be_executed_is_refused_in_one_line(repo: Repository) -> None:
    source = NOTEBOOKS / "source-not-text.ipynb"
    with pytest.raises(AttributeError):  # nbclient cannot run it either
        NotebookClient(nbformat.reads(source.read_text(), as_version=4)).execute()
    shutil.copyfile(source, repo.runbooks_dir / source.name)
    refused = runbook(repo, "plan", "runbooks/source-not-text.ipynb", "--as", "alice")
    assert refused.returncode == 1
    assert refused.stderr == (
        "runbook: error: runbooks/source-not-text.ipynb: not a valid notebook: 42 is not valid "
        "under any of the given schemas at cells[1].source\n"
    )
    assert json.loads(runbook(repo, "plans", "--json").stdout) == []
    assert not list((repo.root / "runs").rglob("*.ipynb*"))
