"""Parameter values typed on a command line (``-p NAME VALUE``): one reading for every command.

``plan``, ``workflow run`` and ``playbook run`` all hand their ``-p`` pairs to
:func:`read_option_values`. A value stays the text that was typed, marked as such
(:class:`CommandLineText`), and is read once as YAML up front (:func:`typed_reading`):
a parameter with a type (declared, or inferred from its default) takes the text as that
type; one without a type (a workflow's or playbook's parameters, a runbook without a
``parameters`` cell, a default the cell computes) takes the YAML reading, through
:func:`untyped_value`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from runbook.errors import UsageError
from runbook.model.parameters import check_name, check_text
from runbook.model.yaml_files import YamlLimitError, load_yaml


class CommandLineText(str):
    """A value as typed after ``-p NAME``, with its YAML reading in ``typed``."""

    typed: object

    def __new__(cls, text: str, typed: object) -> CommandLineText:
        """The text, remembering how it reads as YAML."""
        made = super().__new__(cls, text)
        made.typed = typed
        return made


def read_option_values(pairs: Iterable[tuple[str, str]]) -> dict[str, CommandLineText]:
    """The ``-p NAME VALUE`` pairs as a mapping; a later pair for a name wins.

    A name that is not an identifier, a value that is not text (NUL, bytes that are not
    UTF-8) or one over the YAML caps (an alias bomb) raises a UsageError naming it.
    """
    values: dict[str, CommandLineText] = {}
    for name, text in pairs:
        check_name(name, "-p")
        check_text(name, text, "-p")
        values[name] = CommandLineText(text, typed_reading(name, text))
    return values


def typed_reading(name: str, text: str) -> object:
    """``text`` read as YAML where that reads back as typed, else the text itself.

    ``3`` and ``-2`` are whole numbers, ``1.5`` a number, ``true``/``false`` (any case)
    booleans, ``[a, b]`` a list. Everything else stays text: a number that would not read
    back the same (``1.10``, ``007``, ``1_000``, ``12:30``), yes/no/on/off, dates, null,
    mappings (``reason: disk full`` is a sentence). A value over the YAML caps is refused.
    """
    try:
        value = load_yaml(text)
    except YamlLimitError as error:
        raise UsageError(f"-p {name}: YAML refused: {error.problem}") from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError):
        return text
    if isinstance(value, bool):
        return value if text.strip().lower() in ("true", "false") else text
    if isinstance(value, int):
        return value if _reads_back(value, text) else text
    if isinstance(value, float):
        return value if math.isfinite(value) and repr(value) == text else text
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return text


def _reads_back(value: int, text: str) -> bool:
    try:
        return str(value) == text
    except ValueError:  # past Python's 4300-digit conversion limit: not what was typed
        return False


def untyped_value(value: object) -> Any:
    """A value for a parameter without a type: command-line text as read by YAML, dates as
    ISO text (as papermill passes them), anything else as it is."""
    if isinstance(value, CommandLineText):
        return value.typed
    return _plain(value)


def _plain(value: object) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
