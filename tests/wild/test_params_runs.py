"""tests/wild/params run through papermill and through Runbook, side by side, with `-p` values.

papermill runs each notebook as `papermill -p NAME VALUE` would (its CLI's reading of the
text); Runbook plans it with the same `-p` and runs the plan. The cells' text outputs and
where a run stops agree.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from papermill.cli import _resolve_type

from runbook.model.injection import INJECTED_TAG
from runbook.model.repository import Repository
from tests.builders import write_runbook
from tests.cli.process import runbook
from tests.wild.papermill_side import CORPUS

pytestmark = pytest.mark.kernel


def _papermill(name: str, pairs: list[tuple[str, str]], tmp_path: Path) -> tuple[bool, Any]:
    output = tmp_path / f"papermill-{name}.ipynb"
    parameters = {key: _resolve_type(value) for key, value in pairs}
    try:
        papermill.execute_notebook(
            str(CORPUS / f"{name}.ipynb"), str(output), parameters=parameters, progress_bar=False
        )
        succeeded = True
    except papermill.PapermillExecutionError:
        succeeded = False
    return succeeded, nbformat.read(output, as_version=4)


def _runbook(repo: Repository, name: str, pairs: list[tuple[str, str]]) -> tuple[bool, Any]:
    shutil.copy(CORPUS / f"{name}.ipynb", repo.runbooks_dir / f"{name}.ipynb")
    options = [token for pair in pairs for token in ("-p", *pair)]
    planned = runbook(repo, "plan", name, "--as", "alice", "--json", *options)
    assert planned.returncode == 0, planned.stderr
    ran = runbook(repo, "run", json.loads(planned.stdout)["id"], "--yes", "--json")
    assert "Traceback" not in ran.stderr, ran.stderr
    outcome = json.loads(ran.stdout)
    executed = nbformat.read(repo.root / outcome["notebook"], as_version=4)
    return outcome["state"] == "succeeded", executed


def _outputs(notebook: Any) -> list[list[str]]:
    """Each code cell's text outputs (an error by its name), the injected cell left out."""
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or INJECTED_TAG in cell.metadata.get("tags", []):
            continue
        texts = []
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                texts.append(output.text)
            elif output.output_type == "error":
                texts.append(output.ename)
        cells.append(texts)
    return cells


@pytest.mark.parametrize(
    ("name", "pairs", "succeeds"),
    [
        ("annotations", [("region", "us-east-1"), ("replicas", "5")], True),
        ("type_comments", [("limit", "10"), ("note", "x # y")], True),
        ("no_parameters_cell", [("reason", "disk full")], True),
        ("broken_lines", [("retries", "5")], False),
    ],
)
def test_papermill_and_runbook_agree(
    repo: Repository, tmp_path: Path, name: str, pairs: list[tuple[str, str]], succeeds: bool
) -> None:
    theirs_ok, theirs = _papermill(name, pairs, tmp_path)
    ours_ok, ours = _runbook(repo, name, pairs)
    assert theirs_ok is ours_ok is succeeds
    assert _outputs(ours) == _outputs(theirs)


def test_workflow_run_takes_both_forms_of_p(repo: Repository) -> None:
    folder = repo.root / "workflows"
    (folder / "report.yml").write_text(
        "workflows:\n"
        "  - name: report\n"
        "    parameters: [region, version]\n"
        "    notebooks:\n"
        "      only: {filename: only.ipynb, parameters: {region: region, version: version}}\n"
    )
    write_runbook(
        folder / "only.ipynb",
        [
            ("code", "region = None\nversion = None", ["parameters"]),
            ("code", "print(repr(region), repr(version))", []),
        ],
    )
    ran = runbook(
        repo, "workflow", "run", "report", "--json", "-p", "region=eu", "-p", "version", "1.10"
    )
    assert ran.returncode == 0, ran.stderr
    task = json.loads(ran.stdout)["tasks"][0]
    executed = nbformat.read(repo.root / task["notebook"], as_version=4)
    assert _outputs(executed)[-1] == ["'eu' '1.10'\n"]  # as typed: 1.10 is not the number 1.1
