"""papermill's side of the side-by-side tests: its own inspection, quietly."""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from typing import Any

import nbformat
from papermill.inspection import inspect_notebook
from papermill.translators import PythonTranslator

CORPUS = Path(__file__).parent / "params"

#: papermill's type names in the corpus, as Runbook names the type.
TYPE_NAMES = {
    "str": "str",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "List[str]": "list",
    "Optional[int]": "int",
}

# papermill logs each line it cannot read and each kernel it cannot inspect; the tests
# compare what it returns.
logging.getLogger("papermill").setLevel(logging.ERROR)


def papermill_parameters(name: str) -> dict[str, dict[str, Any]]:
    """papermill.inspect_notebook on corpus notebook ``name``."""
    return dict(inspect_notebook(str(CORPUS / f"{name}.ipynb")))


def papermill_names(source: str) -> list[str]:
    """The names papermill's Python translator reads from a parameters cell's source."""
    return [p.name for p in PythonTranslator.inspect(nbformat.v4.new_code_cell(source))]


def papermill_default(text: str) -> object:
    """papermill's default (the source text) as the Python literal it is, else None."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
