"""Parameters inferred from a papermill ``parameters`` cell, as papermill reads them."""

from __future__ import annotations

import ast
import io
import keyword
import math
import re
import tokenize
from typing import Any

from runbook.model.parameters import JsonValue, ParameterSpec, is_scalar


def infer_specs(source: str) -> dict[str, ParameterSpec]:
    """Infer parameter specs from a papermill ``parameters`` cell.

    Each top-level ``name = literal`` or ``name: T = literal`` gives a parameter; the type
    comes from the annotation or the literal, the default from the literal and the help
    from a trailing ``# comment``. Assignments whose value is not a literal are kept with
    no default, because the cell computes them.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    comments = _trailing_comments(source)
    specs: dict[str, ParameterSpec] = {}
    for node in tree.body:
        target, annotation, value = _assignment_parts(node)
        if target is None or keyword.iskeyword(target):
            continue
        default = _literal(value)
        kind = _annotated_type(annotation) or _value_type(default)
        if kind == "list" and default is not None and not isinstance(default, list):
            default = None
        specs[target] = ParameterSpec(
            name=target, type=kind, default=_jsonable(default), help=comments.get(node.lineno, "")
        )
    return specs


def _assignment_parts(node: ast.stmt) -> tuple[str | None, ast.expr | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        if isinstance(target, ast.Name):
            return target.id, None, node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.annotation, node.value
    return None, None, None


def _trailing_comments(source: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                text = token.string.lstrip("#").strip()
                comments[token.start[0]] = re.sub(r"^type:\s*\S+\s*", "", text)
    except (tokenize.TokenError, SyntaxError):
        pass
    return comments


def _literal(value: ast.expr | None) -> Any:
    if value is None:
        return None
    try:
        return ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _annotated_type(annotation: ast.expr | None) -> str | None:
    if annotation is None:
        return None
    name = ast.unparse(annotation).split("[")[0].rsplit(".", 1)[-1]
    return {
        "str": "str",
        "int": "int",
        "float": "float",
        "bool": "bool",
        "date": "date",
        "datetime": "datetime",
        "list": "list",
        "List": "list",
    }.get(name)


def _value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list | tuple):
        return "list"
    return "str"


def _jsonable(value: Any) -> JsonValue:
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return [item for item in value if is_scalar(item)]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if is_scalar(value) else None
