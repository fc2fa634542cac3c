"""Calls that act on the world directly, found in a cell's source with ``ast``, never run.

``runbook check`` reads a cell's Python for calls that start processes or delete and move
files (``subprocess.run``, ``os.system``, ``shutil.rmtree``, ``Path.unlink``…): a cell making
one needs ``confirm``, like a cell matching the shell patterns of :mod:`runbook.model.lint`.
Names are resolved through the notebook's imports (``import subprocess as sp``, ``from os
import system``), since a kernel keeps every earlier cell's imports. IPython syntax (``%magic``,
``!command``, ``x = !command``) is blanked before parsing, as the kernel would not hand it to
Python either; what still does not parse is reported, not guessed at.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

#: Module functions that start a process or remove, move or overwrite files.
DESTRUCTIVE_CALLS: Final = frozenset(
    {
        *(
            f"subprocess.{name}"
            for name in (
                "run",
                "call",
                "check_call",
                "check_output",
                "Popen",
                "getoutput",
                "getstatusoutput",
            )
        ),
        *(
            f"os.{name}"
            for name in (
                "system",
                "popen",
                "remove",
                "unlink",
                "rmdir",
                "removedirs",
                "rename",
                "renames",
                "replace",
                "truncate",
                "kill",
                "killpg",
                "posix_spawn",
                "posix_spawnp",
                "fork",
                "forkpty",
            )
        ),
        "shutil.rmtree",
        "shutil.move",
        "asyncio.create_subprocess_exec",
        "asyncio.create_subprocess_shell",
        "pty.spawn",
    }
)
#: ``os.execv``, ``os.spawnlp``…: every member of these families.
DESTRUCTIVE_PREFIXES: Final = ("os.exec", "os.spawn")
#: Methods that delete whatever object they are called on (``pathlib.Path``'s).
DESTRUCTIVE_METHODS: Final = frozenset({"unlink", "rmdir"})
#: The variable that puts the helpers in announce mode (``runbook.helpers.DRY_RUN_ENV``): a
#: cell that names it may switch a helpers dry run to acting for real.
DRY_RUN_VARIABLE: Final = "RUNBOOK_DRY_RUN"
#: IPython lines that run a shell: outside the helpers, so never announced in a dry run.
_SHELL_LINE: Final = re.compile(r"^\s*(?:\w+\s*=\s*)?(?:!|%%?(?:sx|system|bash|sh|script)\b)")
_SH_NAMES: Final = frozenset({"sh", "runbook.helpers.sh", "helpers.sh"})
_IPYTHON_LINE: Final = re.compile(r"^(\s*)(?:[!%]|\w+\s*=\s*[!%])")


@dataclass(frozen=True)
class CallScan:
    """What one cell calls directly: ``calls`` as (dotted name, line); ``syntax_error`` when
    the cell is not Python even with IPython syntax blanked; ``shell`` when it has ``!`` or
    shell-magic lines; ``unannounced`` the ``sh(...)`` calls a dry run would run (no literal
    ``mutative=True``), as (line, the call's text)."""

    calls: tuple[tuple[str, int], ...] = ()
    syntax_error: str | None = None
    shell: bool = False
    unannounced: tuple[tuple[int, str], ...] = ()


@dataclass
class _Names:
    """Local name → the dotted name it was imported as."""

    aliases: dict[str, str] = field(default_factory=dict)

    def add(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
                    else:  # `import os.path` binds `os`
                        head = alias.name.split(".")[0]
                        self.aliases[head] = head
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"


def parse_cell(source: str) -> ast.Module | str:
    """The cell's Python with IPython lines blanked, or why it does not parse (never raises)."""
    if source.lstrip().startswith("%%"):  # a cell magic: the whole cell is not Python
        return ast.Module(body=[], type_ignores=[])
    text = "\n".join(_IPYTHON_LINE.sub(r"\1pass  #", line) for line in source.splitlines())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # the kernel's to report, not ours
        try:
            return ast.parse(text)
        except SyntaxError as error:
            return f"line {error.lineno}: {error.msg}"
        except (ValueError, RecursionError, MemoryError) as error:
            return type(error).__name__


def notebook_names(sources: Iterable[str]) -> dict[str, str]:
    """The names every cell's imports bind, for resolving calls in any cell."""
    names = _Names()
    for source in sources:
        tree = parse_cell(source)
        if not isinstance(tree, str):
            names.add(tree)
    return names.aliases


def scan_cell(source: str, names: dict[str, str] | None = None) -> CallScan:
    """The direct destructive calls in one cell, resolved with ``names`` (see
    :func:`notebook_names`) and the cell's own imports."""
    shell = any(_SHELL_LINE.match(line) for line in source.splitlines())
    tree = parse_cell(source)
    if isinstance(tree, str):
        return CallScan(syntax_error=tree, shell=shell)
    local = _Names(dict(names or {}))
    local.add(tree)
    calls = [
        (name, node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and (name := _destructive(node.func, local.aliases))
    ]
    unannounced = [
        (node.lineno, ast.unparse(node))
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and _dotted(node.func, local.aliases) in _SH_NAMES
        and not _announced(node)
    ]
    return CallScan(
        tuple(sorted(calls, key=lambda c: c[1])),
        shell=shell,
        unannounced=tuple(sorted(unannounced)),
    )


def _announced(call: ast.Call) -> bool:
    """Whether ``sh(...)`` says ``mutative=True`` literally, so a dry run only announces it."""
    return any(
        k.arg == "mutative" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords
    )


def _destructive(func: ast.expr, aliases: dict[str, str]) -> str | None:
    dotted = _dotted(func, aliases)
    if dotted is not None and (
        dotted in DESTRUCTIVE_CALLS or dotted.startswith(DESTRUCTIVE_PREFIXES)
    ):
        return dotted
    if isinstance(func, ast.Attribute) and func.attr in DESTRUCTIVE_METHODS:
        return f"{_shown(func.value)}.{func.attr}"
    return None


def _dotted(func: ast.expr, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    node = func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _shown(node: ast.expr) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 30 else "…"
