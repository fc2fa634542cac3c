"""What ``workflow runs`` and ``playbook runs`` share: their options and their printing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

import click
from rich.table import Table

from runbook.cli.context import json_option
from runbook.cli.output import console, print_json

R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


def listing_options(
    states: type[Enum], name_type: click.ParamType[Any, Any] | None = None
) -> Callable[[F], F]:
    """The optional NAME argument, ``--state``, ``--limit`` and ``--json`` of a runs listing."""

    def decorate(command: F) -> F:
        for option in reversed(
            (
                click.argument("name", metavar="[NAME]", required=False, type=name_type),
                click.option(
                    "--state",
                    type=click.Choice([s.value for s in states]),
                    help="Only this state.",
                ),
                click.option(
                    "-n", "--limit", type=click.IntRange(min=1), default=50, show_default=True
                ),
                json_option,
            )
        ):
            command = option(command)
        return command

    return decorate


@dataclass(frozen=True)
class RunListing(Generic[R]):
    """How a kind of run is listed: its JSON form, its table and what an empty list says."""

    summary: Callable[[R], dict[str, Any]]
    columns: tuple[str, ...]
    row: Callable[[R], tuple[str, ...]]
    empty: str

    def print(self, runs: list[R], *, as_json: bool) -> None:
        """Print ``runs`` as JSON for scripts, else as a table (or the empty message)."""
        if as_json:
            print_json([self.summary(run) for run in runs])
            return
        if not runs:
            console.print(self.empty)
            return
        table = Table(*self.columns, box=None)
        for run in runs:
            table.add_row(*self.row(run))
        console.print(table)
