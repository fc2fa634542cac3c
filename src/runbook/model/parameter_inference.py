"""Parameters inferred from a papermill ``parameters`` cell, as papermill reads them.

papermill (``PythonTranslator.inspect``) reads the cell line by line, not as Python, so a
cell with a broken line (a stray ``= 2``, a half-typed line) still yields its parameters.
Runbook reads a cell that does not parse exactly as papermill does: every parameter papermill
yields, Runbook yields (if its name is an identifier). A cell that parses is read as Python:
every assignment to a plain name outside functions and classes, which is what papermill finds
without its false positives (``name=`` inside a call spread over lines) and without missing
``url = "http://h/?a=b"`` (papermill skips lines holding two ``=``).

Either way, as papermill reads them: the type comes from an annotation (``retries: int = 3``)
or a ``# type: int`` comment, the help from the rest of the trailing comment; a ``#`` inside a
string is not a comment. The default is the Python literal the cell leaves in the name, if any
(none when the cell computes it), and the type falls back to the default's.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
import warnings
from collections.abc import Iterator
from typing import Any, Final

from runbook.model.parameters import ParameterSpec, is_scalar
from runbook.typing import JsonValue

#: papermill's reading of one definition: ``name[: annotation] = value[  # comment]``.
_DEFINITION: Final = re.compile(
    r"(?P<target>\w+)\s*(?::\s*[\"']?(?P<annotation>\w[\w\[\],\s]*)[\"']?\s*)?"
    r"=\s*(?P<value>.*?)(?P<comment>\s*#.*)?$"
)
#: papermill's reading of a trailing comment: ``# [type: T] help``.
_COMMENT: Final = re.compile(r"\s*#\s*(?:type:\s*(?P<type>\S*)\s*)?(?P<help>.*)")
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TYPES: Final = {
    "str": "str",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "date": "date",
    "datetime": "datetime",
    "list": "list",
    "List": "list",
}
_MAX_INT_BITS: Final = 14_000
#: Inferred with no type: the default is missing or not one Runbook types.
UNTYPED: Final = "any"


def infer_specs(source: str) -> dict[str, ParameterSpec]:
    """Infer parameter specs from a Python papermill ``parameters`` cell (never raises)."""
    with warnings.catch_warnings():
        # Reading is not running: "invalid escape sequence" and the like are the kernel's
        # to report, not something to print on every `runbook show`.
        warnings.simplefilter("ignore", SyntaxWarning)
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return _read_lines(source)
        return _read_python(tree, source)


def _read_lines(source: str) -> dict[str, ParameterSpec]:
    specs: dict[str, ParameterSpec] = {}
    for group in _groups(source):
        match = _DEFINITION.match(_flatten(group))
        if match is None or not _is_name(match["target"]):
            continue
        value, comment = _split_comment(match.string[match.start("value") :])
        if value is None:  # an unclosed quote: split where papermill does
            value, comment = match["value"], match["comment"]
        # papermill's dict of parameters: a name's first place, its last definition.
        specs[match["target"]] = _spec(
            match["target"], match["annotation"], comment, _literal_text(value)
        )
    return specs


def _groups(source: str) -> list[list[str]]:
    """papermill's grouping: a line holding one ``=`` starts a definition, the lines up to
    the next such line continue it, blank and comment lines are skipped, and a line holding
    several ``=`` is dropped."""
    groups: list[list[str]] = []
    current: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        equals = line.count("=")
        if equals:
            groups.append(current)
            current = []
            if equals > 1:
                continue
        current.append(line)
    groups.append(current)
    return [group for group in groups if group]


def _flatten(group: list[str]) -> str:
    # Comments go from every line but the last, which holds the help (as papermill does).
    return "".join(line.split("#", 1)[0].strip() for line in group[:-1]) + group[-1].strip()


def _read_python(tree: ast.Module, source: str) -> dict[str, ParameterSpec]:
    lines = re.split(r"\r\n|\r|\n", source)
    defaults = _final_literals(tree)
    specs: dict[str, ParameterSpec] = {}
    for name, statement in _assignments(tree.body):
        if not _is_name(name):
            continue
        annotation = None
        if isinstance(statement, ast.AnnAssign):
            annotation = ast.unparse(statement.annotation)
        specs[name] = _spec(name, annotation, _comment_after(lines, statement), defaults.get(name))
    return specs


def _assignments(statements: list[ast.stmt]) -> Iterator[tuple[str, ast.stmt]]:
    """(name, statement) for each assignment to a plain name, in source order, in blocks
    too (``if``, ``for``, ``try``…) but not in functions and classes."""
    for statement in statements:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    yield target.id, statement
        elif (
            isinstance(statement, ast.AnnAssign)
            and statement.value is not None
            and isinstance(statement.target, ast.Name)
        ):
            yield statement.target.id, statement
        for child in ast.iter_child_nodes(statement):
            if isinstance(child, ast.ExceptHandler | ast.match_case):
                yield from _assignments(child.body)
            elif isinstance(child, ast.stmt):
                yield from _assignments([child])


def _final_literals(tree: ast.Module) -> dict[str, Any]:
    """The literal each name holds once the cell has run, where the cell's last top-level
    binding of it is ``name = <literal>``; None where anything else binds it last."""
    values: dict[str, Any] = {}
    for statement in tree.body:
        values.update(dict.fromkeys(_bound_names(statement)))
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            literal = _literal(statement.value)
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    values[target.id] = literal
    return values


def _bound_names(statement: ast.stmt) -> Iterator[str]:
    for node in ast.walk(statement):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            yield node.id
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name
        elif isinstance(node, ast.Import | ast.ImportFrom):
            yield from ((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            yield node.name


def _comment_after(lines: list[str], statement: ast.stmt) -> str | None:
    """The comment on the statement's last line, after the statement."""
    assert statement.end_lineno is not None and statement.end_col_offset is not None  # noqa: S101
    line = lines[statement.end_lineno - 1] if statement.end_lineno <= len(lines) else ""
    # ast counts columns in UTF-8 bytes.
    rest = line.encode("utf-8", "surrogatepass")[statement.end_col_offset :]
    return _split_comment(rest.decode("utf-8", "replace"))[1]


def _split_comment(text: str) -> tuple[str | None, str | None]:
    """``text`` split at its first ``#`` outside a string: (code, comment or None).

    (None, None) when ``text`` ends inside a string, so where the comment starts is unknown.
    """
    quote = ""
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif text.startswith(quote, index):
                index += len(quote) - 1
                quote = ""
        elif char in "\"'":
            quote = char * 3 if text.startswith(char * 3, index) else char
            index += len(quote) - 1
        elif char == "#":
            return text[:index], text[index:]
        index += 1
    return (None, None) if quote else (text, None)


def _spec(name: str, annotation: str | None, comment: str | None, default: Any) -> ParameterSpec:
    read = _COMMENT.match(comment) if comment else None
    type_comment = read["type"] if read else None
    kind = _annotated_type(annotation or type_comment or "") or _value_type(default)
    return ParameterSpec(
        name=name,
        type=kind,
        default=_jsonable(default),
        help=read["help"].strip() if read else "",
    )


def _is_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None and not keyword.iskeyword(name)


def _literal_text(text: str) -> Any:
    try:
        return _literal(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _literal(value: ast.expr) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _annotated_type(annotation: str) -> str | None:
    """The Runbook type an annotation names: ``int``, ``"int"``, ``Optional[int]``,
    ``int | None``, ``typing.List[str]``; None for one Runbook has no type for."""
    text = annotation.strip().strip("\"'").strip()
    optional = re.fullmatch(r"(?:typing\.)?Optional\[(.*)\]", text)
    if optional:
        text = optional[1]
    parts = [part.strip() for part in text.split("|")]
    if len(parts) == 2 and "None" in parts:
        text = parts[0] if parts[1] == "None" else parts[1]
    return _TYPES.get(text.split("[")[0].rsplit(".", 1)[-1].strip())


def _value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list | tuple):
        return "list"
    return UNTYPED


def _jsonable(value: Any) -> JsonValue:
    """The default in JSON form, or None: injected as it is, it must be the cell's value."""
    if isinstance(value, list) and all(is_scalar(item) for item in value):
        return value if all(_finite(item) for item in value) else None
    if isinstance(value, str | int | float | bool) and _finite(value):
        return value
    return None


def _finite(value: object) -> bool:
    if isinstance(value, int):  # past 4300 digits Python cannot write it back as a literal
        return value.bit_length() < _MAX_INT_BITS
    return not isinstance(value, float) or math.isfinite(value)
