"""The types Runbook's data travels in: JSON values, and notebooks and their cells and outputs.

A root module: every layer imports it, so it imports nothing heavy at run time. Notebooks are
nbformat's ``NotebookNode`` (a ``dict`` with attribute access, its keys typed ``Any``); nbformat
is imported for the type checker only, so ``from runbook.typing import Notebook`` costs nothing
on the command line's fast paths. At run time the names are bound to ``dict``, which is what a
``NotebookNode`` is, so they still work in annotations that something evaluates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

#: A JSON leaf.
JsonScalar: TypeAlias = str | int | float | bool | None
#: A value as JSON knows it: a scalar, a list of values or a str-keyed mapping of values.
JsonValue: TypeAlias = JsonScalar | list["JsonValue"] | dict[str, "JsonValue"]

if TYPE_CHECKING:
    from nbformat import NotebookNode

    #: A whole notebook, as nbformat reads it.
    Notebook: TypeAlias = NotebookNode
    #: One cell of a notebook.
    Cell: TypeAlias = NotebookNode
    #: One output of a code cell (a stream, a display, a result or an error).
    Output: TypeAlias = NotebookNode
else:
    Notebook = Cell = Output = dict

__all__ = ["Cell", "JsonScalar", "JsonValue", "Notebook", "Output"]
