"""Errors to exit codes and one stderr line: the only place the CLI decides either.

=====  ==========================================================================
code   meaning
=====  ==========================================================================
0      success
1      failure: the request was fine but could not be carried out (bad notebook,
       self-review, missing or voided review, `check` found errors, store down)
2      usage: the request is wrong (unknown option, runbook, plan or template;
       bad parameter name or value; a path outside the repository)
3      `runbook run`: the run was aborted, rolled back or interrupted
4      `runbook run`: refused by policy (not a plan, review missing or voided,
       plan changed since planning, plan already running)
130    interrupted (Ctrl-C)
=====  ==========================================================================
"""

from __future__ import annotations

from typing import Final

import click

from runbook.errors import FailureError, RunbookError, UsageError

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
EXIT_STOPPED: Final = 3
EXIT_REFUSED: Final = 4
EXIT_INTERRUPTED: Final = 130

#: Most specific class first; the first match decides the exit code.
EXIT_CODES: Final[tuple[tuple[type[RunbookError], int], ...]] = (
    (UsageError, EXIT_USAGE),
    (FailureError, EXIT_FAILURE),
)


def exit_code_for(error: RunbookError) -> int:
    """The documented exit code of an error."""
    return next((code for cls, code in EXIT_CODES if isinstance(error, cls)), EXIT_FAILURE)


def one_line(text: str) -> str:
    """Collapse a message to a single line, so stderr stays one line per error."""
    return " ".join(text.split())


class RefusedError(click.ClickException):
    """A policy refusal where the command documents exit code 4 (``runbook run``)."""

    exit_code = EXIT_REFUSED


class StoppedError(click.ClickException):
    """A run that ended interrupted with an error to tell (exit code 3: the store was lost)."""

    exit_code = EXIT_STOPPED
