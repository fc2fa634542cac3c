from __future__ import annotations

import ast
import copy
import keyword
import re
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.errors import InjectionError, ParameterError
from runbook.model.injection import (
    INJECTED_TAG,
    cell_tags,
    check_inert,
    inject_parameters,
    render_parameters,
)

ASCII_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

HOSTILE = [
    '"; __import__("os").system("touch CANARY") #',
    "'; __import__('os').system('touch CANARY') #",
    "x\n__import__('os').system('touch CANARY')",
    '\\"; import os; os.system("touch CANARY")',
    '"""\nimport os\n"""',
    "{{7*7}} ${HOME} $(touch CANARY) `touch CANARY`",
    "\x00\r\n\t\u2028\u2029",
]


def _notebook_with(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    notebook: nbformat.NotebookNode = nbformat.v4.new_notebook()
    notebook.cells = list(cells)
    return notebook


def _assigned(source: str) -> dict[str, object]:
    tree = ast.parse(source)
    return {
        node.targets[0].id: ast.literal_eval(node.value)  # type: ignore[attr-defined]
        for node in tree.body
        if isinstance(node, ast.Assign)
    }


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_stay_literals(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = render_parameters({"host": value}, {})
    assert _assigned(source) == {"host": value}
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(source, "<injected>", "exec"), namespace)  # noqa: S102 - proving it is inert
    assert namespace["host"] == value
    assert not (tmp_path / "CANARY").exists()


@pytest.mark.parametrize("name", ["x = 1\nimport os; print('PWNED')\ny", "n; id #", "a.b", ""])
def test_hostile_names_are_refused(name: str) -> None:
    with pytest.raises(ParameterError):
        render_parameters({name: 1}, {})


def test_secrets_are_injected_by_reference_only() -> None:
    source = render_parameters({"host": "db1"}, {"password": "env:DB_PASSWORD"})
    assert "from runbook.helpers import secret as _runbook_secret" in source
    assert "password = _runbook_secret('env:DB_PASSWORD')" in source


@pytest.mark.parametrize(
    "source",
    [
        "import os\n",
        "x = __import__('os')\n",
        "x = set()\n",
        "x = y\n",
        "x = y = 1\n",
        "x.y = 1\n",
        "x[0] = 1\n",
        "x = _runbook_secret(name)\n",
        "x = _runbook_secret('a', 'b')\n",
        "from runbook.helpers import sh as _runbook_secret\n",
        "from os import secret as _runbook_secret\n",
        "x = (lambda: 1)()\n",
        "x = 1 if True else 2\n",
        "print(1)\n",
        "x = (\n",
    ],
)
def test_check_inert_refuses_anything_but_literal_assignments(source: str) -> None:
    with pytest.raises(InjectionError):
        check_inert(source)


def test_injected_cell_goes_right_after_the_parameters_cell() -> None:
    notebook = _notebook_with(
        nbformat.v4.new_markdown_cell("# Title", metadata={"tags": ["manual"]}),
        nbformat.v4.new_code_cell("host = 'x'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("restart()", metadata={"tags": ["confirm"]}),
    )
    original = copy.deepcopy(notebook)
    planned = inject_parameters(notebook, render_parameters({"host": "db1"}, {}))
    assert notebook == original
    assert [cell_tags(c) for c in planned.cells] == [
        ["manual"],
        ["parameters"],
        [INJECTED_TAG],
        ["confirm"],
    ]
    assert planned.cells[0] == original.cells[0]
    assert planned.cells[3] == original.cells[2]


def test_existing_injected_cell_is_replaced_in_place() -> None:
    notebook = _notebook_with(
        nbformat.v4.new_code_cell("host = 'x'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("host = 'old'", metadata={"tags": [INJECTED_TAG]}),
        nbformat.v4.new_code_cell("print(host)"),
    )
    planned = inject_parameters(notebook, render_parameters({"host": "new"}, {}))
    assert len(planned.cells) == 3
    assert "host = 'new'" in planned.cells[1].source
    assert planned.cells[1].id == notebook.cells[1].id


def test_without_parameters_cell_the_injected_cell_goes_first() -> None:
    notebook = _notebook_with(nbformat.v4.new_code_cell("print(1)"))
    planned = inject_parameters(notebook, render_parameters({"x": 1}, {}))
    assert cell_tags(planned.cells[0]) == [INJECTED_TAG]


names = st.text(min_size=1, max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
values = scalars | st.lists(scalars, max_size=5)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(names, values, max_size=5))
def test_any_input_is_refused_or_becomes_only_literal_assignments(
    bound: dict[str, object],
) -> None:
    try:
        source = render_parameters(bound, {})  # type: ignore[arg-type]
    except ParameterError as error:
        # Only ASCII identifiers are accepted: Python folds Unicode names (NFKC), so two
        # different-looking names could bind the same variable.
        assert not ASCII_NAME.fullmatch(error.name) or keyword.iskeyword(error.name)
        return
    assert all(ASCII_NAME.fullmatch(name) for name in bound)
    tree = ast.parse(source)
    assert all(isinstance(node, ast.Assign) for node in tree.body)
    assert not any(
        isinstance(n, ast.Call | ast.Attribute | ast.Import | ast.ImportFrom)
        for n in ast.walk(tree)
    )
    assert _assigned(source) == bound
