from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nbformat

from runbook.orchestrate.initialize import init_repository


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def test_init_lays_out_the_repository_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    first = init_repository(tmp_path / "ops")
    root = tmp_path / "ops"
    for folder in (
        "runbooks",
        "templates",
        "workflows",
        "playbooks",
        "catalog",
        "runs",
        ".runbook",
    ):
        assert (root / folder).is_dir()
    assert (root / ".git").is_dir() and "ran git init" in first.changes
    assert "runs/" in (root / ".gitignore").read_text()
    before = {p: p.read_bytes() for p in root.iterdir() if p.is_file()}
    second = init_repository(root)
    assert not second.changed
    assert {p: p.read_bytes() for p in root.iterdir() if p.is_file()} == before


def test_init_inside_an_existing_git_repository_does_not_nest_one(tmp_path: Path) -> None:
    _git(tmp_path, "init", "--quiet")
    (tmp_path / ".gitignore").write_text("*.log")
    report = init_repository(tmp_path / "ops")
    assert "ran git init" not in report.changes
    assert not (tmp_path / "ops" / ".git").exists()
    ours = init_repository(tmp_path)
    assert (tmp_path / ".gitignore").read_text().startswith("*.log\nruns/")
    assert "updated .gitignore" in ours.changes


def test_git_commits_notebooks_without_outputs_and_keeps_the_working_copy(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ops"
    init_repository(root)
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(
        "print('hi')", metadata={"tags": ["confirm"]}, execution_count=3
    )
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    notebook.cells.append(cell)
    notebook.metadata["runbook"] = {"title": "Hi"}
    path = root / "runbooks" / "hi.ipynb"
    nbformat.write(notebook, path)
    _git(root, "add", "runbooks/hi.ipynb")
    _git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "hi")
    committed = json.loads(_git(root, "show", "HEAD:runbooks/hi.ipynb"))
    assert committed["cells"][0]["outputs"] == []
    assert committed["cells"][0]["execution_count"] is None
    assert committed["cells"][0]["metadata"]["tags"] == ["confirm"]
    assert committed["metadata"]["runbook"] == {"title": "Hi"}
    assert json.loads(path.read_text())["cells"][0]["outputs"]
    assert _git(root, "status", "--porcelain", "runbooks") == ""
