"""Parameter inference side by side with papermill's own inspection, on tests/wild/params."""

from __future__ import annotations

import ast
import keyword
import re
import warnings

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from runbook.model.lint import check_runbook
from runbook.model.notebook import load_runbook
from runbook.model.parameter_inference import infer_specs
from runbook.model.parameters import PARAMETER_TYPES
from tests.wild.papermill_side import (
    CORPUS,
    TYPE_NAMES,
    papermill_default,
    papermill_names,
    papermill_parameters,
)

PYTHON_CORPUS = ["broken_lines", "annotations", "type_comments", "help_comments"]

#: Where Runbook reads a parameter differently from papermill, on purpose (README,
#: "Parameters"): a line with two ``=`` that parses is a parameter; a ``#`` inside a string
#: is not a comment.
ON_PURPOSE = {
    ("help_comments", "url"): (
        "str",
        "http://status.local/?check=1",
        "two = on a line: papermill skips it",
    ),
    ("type_comments", "note"): ("str", "a # is not a comment here", "free text"),
}
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@pytest.mark.parametrize("name", PYTHON_CORPUS)
def test_every_parameter_papermill_infers_is_inferred_alike(name: str) -> None:
    theirs = papermill_parameters(name)
    ours = load_runbook(CORPUS / f"{name}.ipynb").parameters
    assert theirs, "the corpus notebook has parameters papermill reads"
    assert set(theirs) <= set(ours)
    extra = {n for n in ours if n not in theirs}
    assert extra == {n for (nb, n) in ON_PURPOSE if nb == name and n not in theirs}
    for parameter, spec in ours.items():
        if (name, parameter) in ON_PURPOSE:
            assert (spec.type, spec.default, spec.help) == ON_PURPOSE[(name, parameter)]
            continue
        pm = theirs[parameter]
        assert spec.help == pm["help"], parameter
        assert spec.default == papermill_default(pm["default"]), parameter
        if pm["inferred_type_name"] != "None":
            assert spec.type == TYPE_NAMES[pm["inferred_type_name"]], parameter


def test_a_broken_line_does_not_hide_the_other_parameters() -> None:
    specs = load_runbook(CORPUS / "broken_lines.ipynb").parameters
    assert list(specs) == ["host", "retries", "ratio", "half", "mode"]
    assert (specs["retries"].type, specs["retries"].default) == ("int", 3)
    assert (specs["ratio"].type, specs["ratio"].help) == ("float", "share of traffic")
    assert specs["half"].default is None  # half-typed: no default, no type


@pytest.mark.parametrize(("name", "language"), [("r_kernel", "R"), ("bash_kernel", "bash")])
def test_other_kernels_never_get_python_names(name: str, language: str) -> None:
    # Their cells parse as Python (`region = "eu"`, `host=db1`), which is the trap.
    runbook = load_runbook(CORPUS / f"{name}.ipynb")
    assert papermill_parameters(name) == {}
    assert runbook.language == language
    assert runbook.parameters == {}
    codes = {finding.code for finding in check_runbook(runbook)}
    assert "parameters-not-inferred" in codes and "inferred-parameters" not in codes


def _valid(name: str) -> bool:
    return IDENTIFIER.fullmatch(name) is not None and not keyword.iskeyword(name)


def _assigned(tree: ast.Module) -> set[str]:
    return {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }


_LINES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "x = 1",
            "= 2",
            "half =",
            "y: int = 3  # type: int help",
            'url = "http://h/?a=b"',
            "hosts = [",
            "  'a',  # first",
            "]  # the hosts",
            "if True:",
            "    nested = 1",
            "def f(a=1):",
            "    inner = 2",
            "d = dict(",
            "    key=1,",
            ")",
            's = "a # b"  # help',
            "'''",
            "1x = 2",
            "for = 3",
            "café = 1",
            "x = 1; y = 2",
            "a = b = 3",
        ]
    ),
)


@given(st.lists(_LINES, max_size=12).map("\n".join))
@example("x = (")
@example("1x = 2\nx = 3")
@example("x = 1\n= 2\ny = 'a # b'  # help")
def test_inference_never_crashes_and_never_invents_a_name(source: str) -> None:
    specs = infer_specs(source)
    theirs = {n for n in papermill_names(source) if _valid(n)}
    assert all(_valid(name) for name in specs)
    assert all(spec.type in (*PARAMETER_TYPES, "any") for spec in specs.values())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # as infer_specs reads
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        # A cell that does not parse is read line by line, exactly as papermill reads it.
        assert set(specs) == theirs
        return
    # A cell that parses is read as Python: only names it assigns, and every name papermill
    # reads that the cell assigns at its top level.
    assert set(specs) <= theirs | _assigned(tree)
    top_level = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    assert theirs & top_level <= set(specs)
