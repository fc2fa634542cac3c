from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat

from runbook.model.repository import Repository
from tests.conftest import Result

Cli = Callable[..., Result]


def _executed(path: Path) -> str:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 + 1", execution_count=1, metadata={"tags": ["verify"]})
    cell.outputs = [
        nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)
    ]
    notebook.cells.append(cell)
    nbformat.write(notebook, path)
    return path.read_text()


def test_strip_check_then_in_place(run_cli: Cli, repo: Repository) -> None:
    path = repo.runbooks_dir / "x.ipynb"
    before = _executed(path)
    checked = run_cli("strip", "--check", str(path))
    assert checked.code == 1 and "would strip" in checked.err
    assert path.read_text() == before
    assert run_cli("strip", str(path)).code == 0
    stripped = json.loads(path.read_text())
    assert stripped["cells"][0]["outputs"] == []
    assert stripped["cells"][0]["metadata"]["tags"] == ["verify"]
    assert run_cli("strip", "--check", str(path)).code == 0


def test_strip_as_a_filter_from_stdin(tmp_path: Path) -> None:
    text = _executed(tmp_path / "x.ipynb")
    result = subprocess.run(
        [sys.executable, "-m", "runbook", "strip"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout)["cells"][0]["execution_count"] is None
    bad = subprocess.run(
        [sys.executable, "-m", "runbook", "strip"],
        input="{oops",
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1 and bad.stderr.startswith("runbook: error: <stdin>: not a valid")
