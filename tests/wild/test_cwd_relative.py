"""Relative paths work as the author wrote them: the kernel runs in the notebook's own folder.

The corpus notebook (tests/wild/flow/relative/) reads ``data/hosts.csv`` and ``notes.txt``
next to it and writes ``report.txt`` there, as a notebook written in Jupyter does. It runs
through Runbook and, side by side, through nbclient as ``jupyter execute`` runs it and
through papermill with the notebook's folder as its ``cwd``: the outputs agree.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill
import pytest

from runbook.model.repository import Repository
from tests.cli.process import runbook
from tests.wild.flow_support import (
    copy_corpus,
    nbclient_run,
    plan_json,
    run_json,
    stream_texts,
)

pytestmark = pytest.mark.kernel

EXPECTED = [
    "",
    "2 hosts: db1, db2\n",
    "maintenance window: Sunday 02:00 UTC\n",
    "wrote relative/report.txt\n",
]


def test_a_notebook_reads_its_files_by_relative_path_as_under_nbclient_and_papermill(
    repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = copy_corpus("relative", repo.runbooks_dir / "relative")
    ipython_dir = tmp_path / "ipython"
    monkeypatch.setenv("IPYTHONDIR", str(ipython_dir))

    planned = plan_json(repo, "relative/hosts_report")
    assert planned["cwd"] == "runbooks/relative"
    code, outcome, err = run_json(repo, planned["id"])
    assert code == 0, err
    ours = nbformat.read(repo.root / outcome["notebook"], as_version=4)
    assert stream_texts(ours) == EXPECTED
    assert (folder / "report.txt").read_text() == "db1\ndb2"
    # The kernel's history stays in memory, as nbclient keeps it: no history.sqlite anywhere.
    assert not list(ipython_dir.rglob("history.sqlite*"))
    assert not list(repo.root.rglob("history.sqlite*"))

    beside = copy_corpus("relative", tmp_path / "jupyter" / "relative")
    assert stream_texts(nbclient_run(beside / "hosts_report.ipynb")) == EXPECTED
    executed = tmp_path / "papermill.ipynb"
    papermill.execute_notebook(
        str(beside / "hosts_report.ipynb"),
        str(executed),
        cwd=str(beside),
        kernel_name="python3",
        progress_bar=False,
    )
    assert stream_texts(nbformat.read(executed, as_version=4)) == EXPECTED


def test_cwd_chooses_another_folder_inside_the_repository_and_review_shows_it(
    repo: Repository,
) -> None:
    copy_corpus("relative", repo.runbooks_dir / "relative")
    (repo.root / "shared" / "data").mkdir(parents=True)
    (repo.root / "shared" / "data" / "hosts.csv").write_text("name,role\nweb1,front\n")
    (repo.root / "shared" / "notes.txt").write_text("shared notes\n")

    planned = plan_json(repo, "runbooks/relative/hosts_report.ipynb", "--cwd", "shared")
    assert planned["cwd"] == "shared"
    shown = json.loads(runbook(repo, "show-plan", planned["id"], "--json").stdout)
    assert shown["cwd"] == "shared"
    review = runbook(repo, "review", planned["id"], "--as", "bob")
    assert "working directory of the kernel: shared" in review.stdout
    verify = runbook(repo, "verify", planned["id"], "--json")
    assert verify.returncode == 0 and json.loads(verify.stdout)["cwd"] == "shared"

    code, outcome, err = run_json(repo, planned["id"])
    assert code == 0, err
    texts = stream_texts(nbformat.read(repo.root / outcome["notebook"], as_version=4))
    assert texts[1:3] == ["1 hosts: web1\n", "shared notes\n"]
    assert (repo.root / "shared" / "report.txt").read_text() == "web1"


def test_the_working_directory_is_bound_to_the_plan_by_its_sha256(repo: Repository) -> None:
    copy_corpus("relative", repo.runbooks_dir / "relative")
    planned = plan_json(repo, "relative/hosts_report")
    plan_file = repo.root / planned["notebook"]
    notebook = json.loads(plan_file.read_text())
    assert notebook["metadata"]["runbook"]["plan"]["cwd"] == "runbooks/relative"
    notebook["metadata"]["runbook"]["plan"]["cwd"] = "."
    plan_file.write_text(json.dumps(notebook))
    verify = runbook(repo, "verify", planned["id"])
    assert verify.returncode == 1 and "modified after planning" in verify.stderr


@pytest.mark.parametrize(
    ("cwd", "reason"),
    [
        ("../elsewhere", "is outside the repository"),
        ("nowhere", "is not a folder"),
        ("runbooks/relative/notes.txt", "is not a folder"),
        ("runs", "is inside runs/"),
        (".runbook", "is inside .runbook/"),
    ],
)
def test_a_bad_cwd_is_one_line_exit_2_and_nothing_is_planned(
    repo: Repository, cwd: str, reason: str
) -> None:
    copy_corpus("relative", repo.runbooks_dir / "relative")
    (repo.root.parent / "elsewhere").mkdir(exist_ok=True)
    result = runbook(repo, "plan", "relative/hosts_report", "--cwd", cwd, "--as", "alice")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and reason in result.stderr and cwd in result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(runbook(repo, "plans", "--json").stdout) == []
    assert not list(repo.plans_dir.glob("*"))


def test_a_working_directory_gone_since_planning_refuses_the_run(repo: Repository) -> None:
    copy_corpus("relative", repo.runbooks_dir / "relative")
    (repo.root / "scratch").mkdir()
    planned = plan_json(repo, "relative/hosts_report", "--cwd", "scratch")
    (repo.root / "scratch").rmdir()
    result = runbook(repo, "run", planned["id"], "--yes", "--as", "carol")
    assert result.returncode == 4
    assert result.stderr.count("\n") == 1
    assert "working directory 'scratch' is not a folder" in result.stderr
    assert json.loads(runbook(repo, "runs", "--json").stdout) == []


def test_a_workflow_task_runs_in_its_notebooks_folder(repo: Repository) -> None:
    folder = copy_corpus("relative", repo.root / "workflows" / "relative")
    (repo.root / "workflows" / "hosts.yml").write_text(
        "workflows:\n"
        "  - name: hosts\n"
        "    notebooks:\n"
        "      report: {filename: relative/hosts_report.ipynb}\n"
    )
    ran = runbook(repo, "workflow", "run", "hosts", "--json")
    assert ran.returncode == 0, ran.stderr
    task = json.loads(ran.stdout)["tasks"][0]
    texts = stream_texts(nbformat.read(repo.root / task["notebook"], as_version=4))
    assert texts == EXPECTED
    assert (folder / "report.txt").read_text() == "db1\ndb2"
