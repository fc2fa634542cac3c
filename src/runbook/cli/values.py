"""``-p NAME VALUE`` (or ``-p NAME=VALUE``): one option for plan, workflow run and playbook run.

The values themselves are read by the core (:mod:`runbook.model.option_values`); this is the
command-line half: the option, and the one-token form, split before click parses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final, TypeVar

import click

#: ``NAME=VALUE`` in one token. A name is an identifier, so it holds no ``=``: the first
#: ``=`` splits, and ``-p note a=b`` (two tokens) still means note = "a=b".
_ONE_TOKEN: Final = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
_FLAGS: Final = ("-p", "--parameter")

F = TypeVar("F", bound=Callable[..., Any])


def parameter_option(what: str) -> Callable[[F], F]:
    """The ``-p`` option, with the same help everywhere (``what``: "a workflow parameter")."""
    return click.option(
        *_FLAGS,
        "parameters",
        nargs=2,
        multiple=True,
        metavar="NAME VALUE",
        help=f"Set {what}: -p NAME VALUE or -p NAME=VALUE (repeatable). A parameter with a "
        "type reads VALUE as that type; without one, 3 is a number, true a boolean, "
        "'[a, b]' a list, anything else text.",
    )


class ParameterCommand(click.Command):
    """A command whose ``-p`` also takes ``NAME=VALUE`` as one token."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Split one-token ``-p NAME=VALUE`` into ``-p NAME VALUE``, then parse as click does."""
        return super().parse_args(ctx, split_parameters(args, self._value_counts()))

    def _value_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for param in self.params:
            if isinstance(param, click.Option) and not param.is_flag and not param.count:
                for opt in [*param.opts, *param.secondary_opts]:
                    counts[opt] = param.nargs
        return counts


def split_parameters(args: list[str], value_counts: dict[str, int]) -> list[str]:
    """``args`` with each ``-p NAME=VALUE`` (or ``--parameter=NAME=VALUE``, ``-pNAME=VALUE``)
    as ``-p NAME VALUE``; every other token, the values of other options included, as is."""
    out: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            out.extend(args[index:])
            break
        flag, attached = _parameter_flag(arg)
        if flag and attached is not None:
            pair = _ONE_TOKEN.fullmatch(attached)
            # Otherwise click reads the attached text as NAME and the next token as VALUE.
            taken = 1 if pair else 2
            out.extend([flag, *pair.groups()] if pair else args[index : index + 2])
            index += taken
        elif flag:
            pair = _ONE_TOKEN.fullmatch(args[index + 1]) if index + 1 < len(args) else None
            taken = 2 if pair else 3
            out.extend([flag, *pair.groups()] if pair else args[index : index + 3])
            index += taken
        else:
            taken = 1 + value_counts.get(arg, 0)
            out.extend(args[index : index + taken])
            index += taken
    return out


def _parameter_flag(arg: str) -> tuple[str | None, str | None]:
    """(the -p flag, a value attached to it) for a token that is one, else (None, None)."""
    if arg in _FLAGS:
        return arg, None
    if arg.startswith("--parameter="):
        return "--parameter", arg[len("--parameter=") :]
    if arg.startswith("-p") and not arg.startswith("--") and len(arg) > 2:
        return "-p", arg[2:]
    return None, None
