"""The ``injected-parameters`` cell, written the way papermill writes it, but provably inert.

Values are rendered with ``repr`` of JSON-form values, then the whole cell is parsed again
with ``ast`` and refused unless every statement assigns a literal to a plain name. Secret
parameters are the one exception: they are assigned from a call that resolves their
reference inside the kernel, so their values never appear in the notebook. Notebooks of
other kernels get their language's literals (:mod:`runbook.model.languages`).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Mapping
from typing import Any, Final

import nbformat

from runbook.errors import InjectionError, ParameterError
from runbook.model.languages import PYTHON, check_cell, render_cell
from runbook.model.parameters import check_name
from runbook.typing import JsonValue, Notebook

INJECTED_TAG: Final = "injected-parameters"
PARAMETERS_TAG: Final = "parameters"
SECRET_RESOLVER: Final = "_runbook_secret"  # noqa: S105 - a function name
_SECRET_IMPORT: Final = f"from runbook.helpers import secret as {SECRET_RESOLVER}"


def render_parameters(
    values: Mapping[str, JsonValue], secrets: Mapping[str, str], language: str = PYTHON
) -> str:
    """The source of an injected-parameters cell: plain values, then secret references.

    ``language`` is the notebook's (:func:`runbook.model.languages.notebook_language`).
    Secrets are resolved by a Python helper, so only Python notebooks take them.
    """
    if language != PYTHON:
        if secrets:
            reason = f"is secret: only Python notebooks resolve secrets, this one is {language}"
            raise ParameterError(next(iter(secrets)), reason)
        return render_cell(language, values)
    lines = ["# Parameters"]
    for name, value in values.items():
        lines.append(f"{check_name(name)} = {_literal(value)}")
    if secrets:
        lines.append(_SECRET_IMPORT)
        for name, reference in secrets.items():
            lines.append(f"{check_name(name)} = {SECRET_RESOLVER}({reference!r})")
    source = "\n".join(lines) + "\n"
    check_inert(source)
    return source


def _literal(value: JsonValue) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4300-digit conversion limit
        raise InjectionError("a number too long to write as a literal") from None
    try:
        round_trip = ast.literal_eval(text)
    except (ValueError, SyntaxError) as error:
        raise InjectionError(f"value {text[:40]!r} is not a literal") from error
    if round_trip != value or type(round_trip) is not type(value):
        raise InjectionError(f"value {text[:40]!r} does not survive a round trip")
    return text


def check_inert(source: str) -> None:
    """Raise InjectionError unless ``source`` only binds names to literals or secret lookups.

    Allowed statements: ``name = <literal>``; the one import of the secret resolver; and
    ``name = _runbook_secret('<text>')``. Anything else (calls, attributes, imports,
    subscripts, several targets) is refused.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise InjectionError(f"cell does not parse: {error.msg}") from None
    for statement in tree.body:
        if _is_secret_import(statement):
            continue
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            raise InjectionError(f"line {statement.lineno} is not a plain assignment")
        value = statement.value
        if _is_secret_lookup(value):
            continue
        try:
            ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError):
            raise InjectionError(
                f"line {statement.lineno} assigns something other than a literal"
            ) from None
        if any(isinstance(node, ast.Call | ast.Attribute | ast.Name) for node in ast.walk(value)):
            raise InjectionError(f"line {statement.lineno} holds a name or call")


def _is_secret_import(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.ImportFrom)
        and statement.module == "runbook.helpers"
        and statement.level == 0
        and len(statement.names) == 1
        and statement.names[0].name == "secret"
        and statement.names[0].asname == SECRET_RESOLVER
    )


def _is_secret_lookup(value: ast.expr) -> bool:
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == SECRET_RESOLVER
        and not value.keywords
        and len(value.args) == 1
        and isinstance(value.args[0], ast.Constant)
        and isinstance(value.args[0].value, str)
    )


def inject_parameters(notebook: Notebook, source: str, language: str = PYTHON) -> Notebook:
    """Return a copy of ``notebook`` with an injected-parameters cell holding ``source``.

    As papermill does: an existing injected cell is replaced in place; otherwise the new
    cell goes right after the first ``parameters`` cell, or first when there is none. Every
    other cell, with its tags and metadata, is kept unchanged. ``source`` is checked again
    in ``language`` first.
    """
    if language == PYTHON:
        check_inert(source)
    else:
        check_cell(language, source)
    planned = copy.deepcopy(notebook)
    cell = nbformat.v4.new_code_cell(source=source, metadata={"tags": [INJECTED_TAG]})
    cells = planned["cells"]
    for index, existing in enumerate(cells):
        if INJECTED_TAG in cell_tags(existing):
            cell["id"] = existing.get("id", cell["id"])
            cells[index] = cell
            return planned
    anchor = next((i for i, c in enumerate(cells) if PARAMETERS_TAG in cell_tags(c)), -1)
    cells.insert(anchor + 1, cell)
    return planned


def cell_tags(cell: Mapping[str, Any]) -> list[str]:
    """The tags of a cell (``metadata.tags``), or an empty list."""
    tags = cell.get("metadata", {}).get("tags", [])
    return [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []
