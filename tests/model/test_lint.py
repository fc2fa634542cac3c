from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat

from runbook.model.lint import Finding, Severity, check_runbook
from runbook.model.notebook import Runbook, load_runbook


def _runbook(
    tmp_path: Path, cells: list[tuple[str, str, list[str]]], meta: dict[str, object] | None = None
) -> Runbook:
    notebook = nbformat.v4.new_notebook()
    for kind, source, tags in cells:
        make: Callable[..., nbformat.NotebookNode] = (
            nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        )
        notebook.cells.append(make(source, metadata={"tags": tags}))
    notebook.metadata["runbook"] = meta or {"title": "t"}
    path = tmp_path / "r.ipynb"
    nbformat.write(notebook, path)
    return load_runbook(path)


def _codes(findings: list[Finding], severity: Severity | None = None) -> list[str]:
    return [f.code for f in findings if severity is None or f.severity is severity]


def test_a_well_formed_runbook_has_no_errors(tmp_path: Path) -> None:
    runbook = _runbook(
        tmp_path,
        [
            ("code", "host = 'x'  # where", ["parameters"]),
            ("code", "print(host)", ["precheck"]),
            ("code", "sh('systemctl restart db', mutative=True)", ["confirm"]),
            ("code", "print('ok')", ["verify"]),
            ("code", "sh('systemctl start db')", ["rollback"]),
        ],
        {"title": "t", "parameters": {"host": {"type": "str"}}},
    )
    assert _codes(check_runbook(runbook)) == []


def test_confirm_before_precheck_is_an_error(tmp_path: Path) -> None:
    runbook = _runbook(
        tmp_path,
        [
            ("code", "restart()", ["confirm"]),
            ("code", "print('check')", ["precheck"]),
        ],
    )
    findings = check_runbook(runbook)
    assert "confirm-before-precheck" in _codes(findings, Severity.ERROR)
    assert [f.cell for f in findings if f.severity is Severity.ERROR] == [0]


def test_mutative_step_without_confirm_is_an_error_unless_marked(tmp_path: Path) -> None:
    runbook = _runbook(
        tmp_path,
        [
            ("code", "!kubectl delete pod web-1", []),
            ("code", "sh('DROP TABLE users')  # runbook: not-mutative", []),
            ("code", "q = 'delete from users'", ["skip-execution"]),
        ],
    )
    errors = [f for f in check_runbook(runbook) if f.severity is Severity.ERROR]
    assert [(f.code, f.cell) for f in errors] == [("mutation-without-confirm", 0)]


def test_undeclared_parameters_are_errors_and_inferred_ones_warnings(tmp_path: Path) -> None:
    declared = _runbook(
        tmp_path,
        [("code", "host = 'x'\nport = 5", ["parameters"])],
        {"title": "t", "parameters": {"host": {"type": "str"}}},
    )
    assert _codes(check_runbook(declared), Severity.ERROR) == ["undeclared-parameter"]
    inferred = _runbook(tmp_path, [("code", "host = 'x'", ["parameters"])])
    assert _codes(check_runbook(inferred)) == ["inferred-parameters"]


def test_warnings_for_missing_safety_cells_and_misspelt_tags(tmp_path: Path) -> None:
    runbook = _runbook(tmp_path, [("code", "restart()", ["confirm", "precheks"])])
    assert set(_codes(check_runbook(runbook), Severity.WARNING)) == {
        "no-precheck",
        "no-rollback",
        "no-verify",
        "unknown-tag",
    }
