"""Which confirm cells a dry run executes: only in a helpers runbook, only through them."""

from __future__ import annotations

import nbformat
import pytest

from runbook.engine.cell_rules import dry_run_step


def _notebook(
    confirm: str, other: str = "print('check')", dry_run: str | None = "helpers"
) -> nbformat.NotebookNode:
    notebook: nbformat.NotebookNode = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(other, metadata={"tags": ["precheck"]}),
        nbformat.v4.new_code_cell(confirm, metadata={"tags": ["confirm"]}),
    ]
    notebook.metadata["runbook"] = {"title": "t"} | ({"dry_run": dry_run} if dry_run else {})
    return notebook


def test_without_the_declaration_no_confirm_cell_is_executed() -> None:
    notebook = _notebook("sh('systemctl restart db', mutative=True)", dry_run=None)
    step = dry_run_step(notebook, notebook.cells[1])
    assert not step.execute and step.note == "not executed in a dry run"


def test_a_helpers_cell_is_executed_with_the_helpers_announcing() -> None:
    notebook = _notebook("sh('systemctl restart db', mutative=True)\nprint(sh('ls').stdout)")
    assert dry_run_step(notebook, notebook.cells[1]).execute


@pytest.mark.parametrize(
    ("confirm", "other", "said"),
    [
        ("import os\nos.remove('f')", "print('check')", "calls os.remove() (line 2) directly"),
        ("!systemctl restart db", "print('check')", "runs a shell"),
        ("sh('systemctl restart db')", "print('check')", "without mutative=True"),
        ("def broken(:", "print('check')", "cannot be read as Python"),
        ("sh('x', mutative=True)", "os.environ['RUNBOOK_DRY_RUN'] = '0'", "names RUNBOOK_DRY_RUN"),
    ],
)
def test_a_cell_acting_around_the_helpers_is_not_executed(
    confirm: str, other: str, said: str
) -> None:
    notebook = _notebook(confirm, other)
    step = dry_run_step(notebook, notebook.cells[1])
    assert not step.execute and said in step.note
