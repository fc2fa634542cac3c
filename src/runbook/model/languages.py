"""A notebook's kernel language, and parameter literals in the languages Runbook writes.

papermill picks a translator by the kernel's name, then by its language; Runbook reads the
same fields in the same order. Python cells are written (and checked) by
:mod:`runbook.model.injection`; R, Julia and bash cells are written here, one assignment a
line, each value built only from escaped literals: text can end its string in none of them
(Julia's ``$`` interpolation and bash's expansions included), so a value never becomes code.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any, Final

from runbook.errors import InjectionError, ParameterError
from runbook.model.parameters import check_name

PYTHON: Final = "python"

#: Kernel names and languages papermill knows, lowercased, to the language Runbook names.
_KNOWN: Final = {
    "python": PYTHON,
    "python2": PYTHON,
    "python3": PYTHON,
    "ipython": PYTHON,
    "pysparkkernel": PYTHON,
    "r": "R",
    "ir": "R",
    "sparkrkernel": "R",
    "julia": "julia",
    "bash": "bash",
    "scala": "scala",
    "sparkkernel": "scala",
    "matlab": "matlab",
    ".net-csharp": "C#",
    ".net-fsharp": "F#",
    ".net-powershell": "PowerShell",
}


def notebook_language(metadata: Mapping[str, Any]) -> str:
    """The language of a notebook's kernel: ``python``, ``R``, ``julia``, ``bash``…

    As papermill does, the kernelspec's name decides first (``ir`` is R, ``julia-1.10``
    Julia), then ``language_info.name``, then ``kernelspec.language``; a name none of them
    knows is returned as it is, and a notebook that names no kernel is Python (the default
    kernel is python3).
    """
    spec = metadata.get("kernelspec")
    info = metadata.get("language_info")
    spec = spec if isinstance(spec, Mapping) else {}
    info = info if isinstance(info, Mapping) else {}
    named = [spec.get("name"), info.get("name"), spec.get("language")]
    candidates = [n.strip() for n in named if isinstance(n, str) and n.strip()]
    for candidate in candidates:
        key = candidate.lower()
        if key.startswith("julia-"):
            return "julia"
        if key in _KNOWN:
            return _KNOWN[key]
    return candidates[0] if candidates else PYTHON


def render_cell(language: str, values: Mapping[str, object], where: str = "") -> str:
    """The injected cell for a non-Python kernel: a comment, then one assignment a line.

    Names are checked as everywhere (:func:`check_name`). A language Runbook writes no
    literals for, or a value the language has no literal for (a mapping in bash), raises
    ParameterError.
    """
    writer = _WRITERS.get(language)
    if writer is None:
        shown = ", ".join(["python", *_WRITERS])
        raise ParameterError(
            next(iter(values), "?"),
            f"cannot be injected into a {language} notebook (Runbook writes parameters "
            f"for {shown} kernels)",
            where,
        )
    lines = ["# Parameters"]
    for name, value in values.items():
        checked = check_name(name, where)
        if language == "R" and checked.startswith("_"):
            raise ParameterError(checked, "is not an R name (R names cannot start with _)", where)
        try:
            lines.append(writer(checked, value))
        except _Unwritable as error:
            reason = f"{error} cannot be written as a {language} literal"
            raise ParameterError(checked, reason, where) from None
    source = "\n".join(lines) + "\n"
    check_cell(language, source)
    return source


def check_cell(language: str, source: str) -> None:
    """Raise InjectionError unless ``source`` only assigns literals to names.

    The second guard, as :func:`runbook.model.injection.check_inert` is for Python: after
    the comment, each line is a name, the assignment, then only tokens of that language's
    literals (closed strings, numbers, constants, list brackets and commas). A bash word in
    single quotes may span lines (text with a newline), so bash is matched as a whole.
    """
    if language == "bash":
        if not _BASH_CELL.fullmatch(source):
            raise InjectionError("the cell is not assignments of bash words")
        return
    lines = source.split("\n")
    if language not in _WRITERS or lines[0] != "# Parameters" or lines[-1] != "":
        raise InjectionError(f"not a {language} parameters cell")
    for number, line in enumerate(lines[1:-1], start=2):
        name, sep, rest = line.partition(" = ")
        if not (sep and _NAME.fullmatch(name) and _literals(language, rest)):
            raise InjectionError(f"line {number} is not an assignment of {language} literals")


def _literals(language: str, text: str) -> bool:
    position = 0
    while position < len(text):
        token = _TOKENS[language].match(text, position)
        if token is None:
            return False
        position = token.end()
    return position > 0


class _Unwritable(ValueError):
    """A value the language has no literal for; its message names the kind of value."""


_R_ESCAPES: Final = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_JULIA_ESCAPES: Final = {**_R_ESCAPES, "$": "\\$"}
_NUMBER: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?")
#: Control characters and what str.splitlines breaks at: written as \\u escapes, so a
#: literal is one line, whatever reads it.
_UNPRINTED: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: What a closed string literal looks like once written: every quote, backslash and
#: control character escaped (and ``$`` for Julia), so it cannot end early.
_R_STRING: Final = re.compile(
    r'"(?:[^"\\\x00-\x1f\x7f-\x9f\u2028\u2029]|\\[\\"nrt]|\\u[0-9a-f]{4})*"'
)
_JULIA_STRING: Final = re.compile(
    r'"(?:[^"\\$\x00-\x1f\x7f-\x9f\u2028\u2029]|\\[\\"$nrt]|\\u[0-9a-f]{4})*"'
)
#: What ``shlex.quote`` writes: safe characters bare, everything else in single quotes.
_BASH_WORD: Final = re.compile(r"(?:[A-Za-z0-9_@%+=:,./-]+|'[^']*'|\"'\")+|''")
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKENS: Final = {
    "R": re.compile(rf"{_R_STRING.pattern}|{_NUMBER.pattern}|TRUE|FALSE|NULL|list\(|\)|, | = "),
    "julia": re.compile(
        rf"{_JULIA_STRING.pattern}|{_NUMBER.pattern}|true|false|nothing|Dict\(|\)|\[|\]|, | => "
    ),
}
#: A bash value is one word, or an array of words: a space elsewhere would start a command.
_BASH_VALUE: Final = (
    rf"(?:{_BASH_WORD.pattern})"
    rf"|\((?:(?:{_BASH_WORD.pattern})(?: (?:{_BASH_WORD.pattern}))*)?\)"
)
_BASH_CELL: Final = re.compile(rf"# Parameters\n(?:{_NAME.pattern}=(?:{_BASH_VALUE})\n)*")


def _quoted(text: str, escapes: Mapping[str, str], shape: re.Pattern[str]) -> str:
    body = "".join(
        escapes.get(char, f"\\u{ord(char):04x}" if _UNPRINTED.match(char) else char)
        for char in text
    )
    literal = f'"{body}"'
    if not shape.fullmatch(literal):  # a guard on the code above: never reached
        raise _Unwritable("this text")
    return literal


def _number(value: int | float) -> str:
    try:
        text = repr(value) if isinstance(value, float) else str(value)
    except ValueError:  # an int past Python's 4300-digit conversion limit
        raise _Unwritable("a number this long") from None
    if not _NUMBER.fullmatch(text):  # inf and nan: Runbook's values are finite
        raise _Unwritable(f"the number {text}")
    return text


def _r_value(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return _quoted(value, _R_ESCAPES, _R_STRING)
    if isinstance(value, list | tuple):
        return f"list({', '.join(_r_value(v) for v in value)})"
    if isinstance(value, Mapping):
        items = (f"{_r_value(str(k))} = {_r_value(v)}" for k, v in value.items())
        return f"list({', '.join(items)})"
    raise _Unwritable(f"a {type(value).__name__}")


def _julia_value(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return _quoted(value, _JULIA_ESCAPES, _JULIA_STRING)
    if isinstance(value, list | tuple):
        return f"[{', '.join(_julia_value(v) for v in value)}]"
    if isinstance(value, Mapping):
        items = (f"{_julia_value(str(k))} => {_julia_value(v)}" for k, v in value.items())
        return f"Dict({', '.join(items)})"
    raise _Unwritable(f"a {type(value).__name__}")


def _bash_word(value: object) -> str:
    if value is None:
        return "''"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        word = shlex.quote(value)
        if not _BASH_WORD.fullmatch(word):  # a guard on shlex: never reached
            raise _Unwritable("this text")
        return word
    if isinstance(value, list | tuple | Mapping):
        raise _Unwritable("a list or mapping inside a list")
    raise _Unwritable(f"a {type(value).__name__}")


def _bash_value(value: object) -> str:
    if isinstance(value, list | tuple):
        return f"({' '.join(_bash_word(v) for v in value)})"
    if isinstance(value, Mapping):
        raise _Unwritable("a mapping")
    return _bash_word(value)


_WRITERS: Final[dict[str, Callable[[str, object], str]]] = {
    "R": lambda name, value: f"{name} = {_r_value(value)}",
    "julia": lambda name, value: f"{name} = {_julia_value(value)}",
    "bash": lambda name, value: f"{name}={_bash_value(value)}",
}
