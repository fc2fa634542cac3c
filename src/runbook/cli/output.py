"""Console output: rich for people on stdout, JSON for scripts, errors on stderr."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import Any

from rich.console import Console

# Piped output is read by scripts and grep: do not squeeze tables into 80 columns there.
_PIPE_WIDTH = 200
console = Console(
    highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else _PIPE_WIDTH
)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Write one JSON document to stdout (dates in ISO form)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=_default) + "\n")


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return value.__dict__
    raise TypeError(f"cannot serialise {type(value).__name__}")


def say(message: str) -> None:
    """A progress or status line for people, on stderr so stdout stays parseable."""
    err_console.print(message)


def timestamp(moment: datetime) -> str:
    """A compact local-time rendering of a timestamp for tables."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")
