"""Values papermill accepts are accepted: `runbook plan -p` on the tests/wild/params corpus.

Declared parameters stay strict; inferred ones take a value that does not fit the guessed
type as text, with one warning; a runbook without a parameters cell takes values as papermill
does. Injection stays literal, in the notebook's own language. No kernel runs here.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from papermill.translators import translate_parameters

from runbook.model.injection import INJECTED_TAG, check_inert, render_parameters
from runbook.model.languages import check_cell
from runbook.model.repository import Repository
from tests.conftest import Result
from tests.wild.papermill_side import CORPUS

Cli = Any


def _copy(repo: Repository, name: str) -> None:
    shutil.copy(CORPUS / f"{name}.ipynb", repo.runbooks_dir / f"{name}.ipynb")


def _plan(run_cli: Cli, name: str, *args: str) -> tuple[Result, Any]:
    result = run_cli("plan", name, "--as", "alice", "--json", *args)
    if result.code != 0:
        return result, None
    notebook = Path(json.loads(result.out)["notebook"])
    return result, nbformat.read(notebook, as_version=4)


def _injected(planned: Any) -> tuple[int, str]:
    return next(
        (index, cell.source)
        for index, cell in enumerate(planned.cells)
        if INJECTED_TAG in cell.metadata.get("tags", [])
    )


def _plans(repo: Repository) -> list[Path]:
    return list((repo.root / "runs" / "plans").glob("*.ipynb"))


def test_an_inferred_value_that_does_not_fit_is_passed_as_text_a_declared_one_is_refused(
    run_cli: Cli, repo: Repository
) -> None:
    _copy(repo, "annotations")
    result, planned = _plan(run_cli, "annotations", "-p", "replicas", "a few", "-p", "ratio", "2")
    assert result.code == 0, result.err
    assert result.err.count("\n") == 1 and result.err.startswith("runbook: warning: ")
    assert "parameter 'replicas': 'a few' is not a valid int" in result.err
    assert "passed as text" in result.err
    values = _assigned(_injected(planned)[1])
    assert values["replicas"] == "a few"  # as papermill would pass it
    assert values["ratio"] == 2.0  # fits the annotation: typed, no warning
    assert values["hosts"] == ["a", "b"]  # the cell's own default, as it is
    assert "timeout" not in values  # its default is None: nothing to inject
    # Declared, the same parameter stays strict: refused, one line, no plan.
    path = repo.runbooks_dir / "annotations.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["runbook"] = {"parameters": {"replicas": {"type": "int", "default": 2}}}
    nbformat.write(notebook, path)
    before = _plans(repo)
    # --force: declaring only replicas leaves the cell's other names undeclared (a check error).
    refused, _ = _plan(run_cli, "annotations", "-p", "replicas", "a few", "--force")
    assert refused.code == 2
    assert refused.err.count("\n") == 1 and "'a few' is not a valid int" in refused.err
    assert _plans(repo) == before


def test_without_a_parameters_cell_values_go_into_a_first_cell_as_papermill_does(
    run_cli: Cli, repo: Repository
) -> None:
    _copy(repo, "no_parameters_cell")
    hostile = '"; __import__("os").system("touch CANARY") #'
    result, planned = _plan(
        run_cli, "no_parameters_cell", "-p", "reason", "disk full", "-p", "note", hostile
    )
    assert result.code == 0, result.err
    assert result.err.count("\n") == 1 and "no cell is tagged parameters" in result.err
    index, source = _injected(planned)
    assert index == 0
    check_inert(source)
    assert _assigned(source) == {"reason": "disk full", "note": hostile}


@pytest.mark.parametrize("name", ["1st", "a b", "x;import os", "class"])
def test_without_a_parameters_cell_a_name_that_is_not_an_identifier_is_refused(
    run_cli: Cli, repo: Repository, name: str
) -> None:
    _copy(repo, "no_parameters_cell")
    result, _ = _plan(run_cli, "no_parameters_cell", "-p", name, "x")
    assert result.code == 2
    assert result.err.count("\n") == 1 and "not a valid name" in result.err
    assert _plans(repo) == []


def test_an_r_notebook_gets_r_literals_as_papermill_writes_them(
    run_cli: Cli, repo: Repository
) -> None:
    _copy(repo, "r_kernel")
    result, planned = _plan(
        run_cli, "r_kernel", "-p", "region", "us", "-p", "count", "5", "-p", "verbose", "false"
    )
    assert result.code == 0, result.err
    assert result.err.count("\n") == 1 and "R notebooks are not inferred" in result.err
    index, source = _injected(planned)
    assert index == 2  # right after the parameters cell
    expected = {"region": "us", "count": 5, "verbose": False}
    assert source == translate_parameters("ir", "R", expected)


def test_an_r_value_stays_inside_its_string(run_cli: Cli, repo: Repository) -> None:
    _copy(repo, "r_kernel")
    hostile = 'us"; system("touch CANARY"); x <- "\\'
    result, planned = _plan(run_cli, "r_kernel", "-p", "region", hostile)
    assert result.code == 0, result.err
    source = _injected(planned)[1]
    check_cell("R", source)
    assert source.splitlines()[1] == 'region = "us\\"; system(\\"touch CANARY\\"); x <- \\"\\\\"'


def test_a_bash_notebook_gets_bash_words_that_bash_reads_back(
    run_cli: Cli, repo: Repository, tmp_path: Path
) -> None:
    _copy(repo, "bash_kernel")
    hostile = "db1; touch CANARY $(touch CANARY) `touch CANARY` 'quoted'"
    result, planned = _plan(run_cli, "bash_kernel", "-p", "host", hostile, "-p", "count", "3")
    assert result.code == 0, result.err
    source = _injected(planned)[1]
    assert source == translate_parameters("bash", "bash", {"host": hostile, "count": 3})
    assert _bash_values(source, ["host", "count"], tmp_path) == [hostile, "3"]
    assert not (tmp_path / "CANARY").exists()


@given(st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=40))
def test_any_text_is_one_bash_word(text: str) -> None:
    source = render_parameters({"value": text}, {}, "bash")
    check_cell("bash", source)
    assert _bash_values(source, ["value"], None) == [text]


@given(st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=40))
def test_any_text_is_one_closed_r_or_julia_string(text: str) -> None:
    for language in ("R", "julia"):
        source = render_parameters({"value": text}, {}, language)
        check_cell(language, source)
        literal = source.splitlines()[1].removeprefix("value = ")
        assert _decode(literal, julia=language == "julia") == text


def test_julia_text_never_interpolates() -> None:
    # papermill's Julia translator leaves `$` as it is: "$(run(...))" would run.
    source = render_parameters({"cmd": "$(run(`touch CANARY`))"}, {}, "julia")
    assert source.splitlines()[1] == 'cmd = "\\$(run(`touch CANARY`))"'


def test_kernels_runbook_writes_no_literals_for_are_refused_clearly(
    run_cli: Cli, repo: Repository
) -> None:
    notebook = nbformat.read(CORPUS / "r_kernel.ipynb", as_version=4)
    notebook.metadata["kernelspec"] = {"name": "scala", "display_name": "Scala"}
    notebook.metadata["language_info"] = {"name": "scala"}
    nbformat.write(notebook, repo.runbooks_dir / "scala.ipynb")
    result, _ = _plan(run_cli, "scala", "-p", "region", "us")
    assert result.code == 2
    assert "cannot be injected into a scala notebook" in result.err
    assert result.err.count("error") == 1 and _plans(repo) == []


def test_secrets_in_other_kernels_are_refused_clearly(run_cli: Cli, repo: Repository) -> None:
    _copy(repo, "r_kernel")
    path = repo.runbooks_dir / "r_kernel.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["runbook"] = {"parameters": {"token": {"type": "str", "secret": True}}}
    nbformat.write(notebook, path)
    result, _ = _plan(run_cli, "r_kernel")
    assert result.code == 2
    assert "only Python notebooks resolve secrets, this one is R" in result.err
    assert _plans(repo) == []


def _assigned(source: str) -> dict[str, object]:
    return {
        node.targets[0].id: ast.literal_eval(node.value)  # type: ignore[attr-defined]
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
    }


def _bash_values(source: str, names: list[str], cwd: Path | None) -> list[str]:
    script = source + "".join(f'printf "%s\\0" "${name}"\n' for name in names)
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, check=True, cwd=cwd, env={}, timeout=30
    )
    return done.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]


def _decode(literal: str, *, julia: bool) -> str:
    """The text an R or Julia double-quoted literal holds, for the escapes Runbook writes."""
    assert literal.startswith('"') and literal.endswith('"')
    body, out, index = literal[1:-1], [], 0
    simple = {
        "\\": "\\",
        '"': '"',
        "n": "\n",
        "r": "\r",
        "t": "\t",
        **({"$": "$"} if julia else {}),
    }
    while index < len(body):
        char = body[index]
        assert char != '"' and not (julia and char == "$"), "the string would end or interpolate"
        if char != "\\":
            out.append(char)
            index += 1
        elif body[index + 1] == "u":
            out.append(chr(int(body[index + 2 : index + 6], 16)))
            index += 6
        else:
            out.append(simple[body[index + 1]])
            index += 2
    return "".join(out)
