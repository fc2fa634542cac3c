"""Shared by the corpus tests of tests/wild/flow/: copying corpus files, running the others."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

from runbook.model.repository import Repository
from tests.cli.process import runbook

CORPUS = Path(__file__).parent / "flow"


def copy_corpus(name: str, destination: Path) -> Path:
    """Copy the corpus folder ``name`` to ``destination`` (created); returns ``destination``."""
    shutil.copytree(CORPUS / name, destination, dirs_exist_ok=True)
    return destination


def plan_json(repo: Repository, *args: str) -> dict[str, Any]:
    """``runbook plan ARGS --json`` that must succeed: the plan's summary."""
    result = runbook(repo, "plan", *args, "--as", "alice", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def run_json(repo: Repository, plan_id: str, **env: str) -> tuple[int, dict[str, Any], str]:
    """``runbook run PLAN --yes --json``: its exit code, its JSON summary, its stderr."""
    result = runbook(repo, "run", plan_id, "--yes", "--as", "carol", "--json", **env)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout) if result.stdout else {}, result.stderr


def stream_texts(notebook: Any) -> list[str]:
    """Every code cell's stream text, one string per code cell, injected cells left out."""
    return [
        "".join(o.get("text", "") for o in cell.get("outputs", []) if o["output_type"] == "stream")
        for cell in notebook.cells
        if cell.cell_type == "code"
        and "injected-parameters" not in cell.get("metadata", {}).get("tags", [])
    ]


def nbclient_run(source: Path) -> Any:
    """Execute ``source`` the way ``jupyter execute`` does: in the notebook's own folder."""
    notebook = nbformat.read(source, as_version=4)
    client = NotebookClient(
        notebook, kernel_name="python3", resources={"metadata": {"path": str(source.parent)}}
    )
    client.execute()
    return notebook
