"""What an outcome means to whoever asked: the CLI's exit code, the API's HTTP status.

One table for errors (most specific class first; the first match decides) and one for the
final states of runs, workflow runs and playbook runs. Every caller reads these; none keeps
its own. ``tests/test_outcomes.py`` pins both, and the README's exit-code table says the
same.

=====  ==========================================================================
code   meaning
=====  ==========================================================================
0      success
1      failure: the request was fine but could not be carried out
2      usage: the request is wrong (unknown name, bad value, path outside)
3      a run, workflow run or playbook run stopped: aborted, rolled back,
       cancelled or interrupted (also when the store was lost mid-run)
4      a run or playbook run was refused before it started (policy, locks)
130    interrupted (Ctrl-C)
=====  ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from runbook.errors import (
    AlertPayloadError,
    AlreadyExistsError,
    AuditTamperedError,
    CheckFailedError,
    ConfigError,
    CredentialsError,
    DataSourceError,
    EgressError,
    FailureError,
    ForbiddenError,
    GateNotWaitingError,
    IdempotencyConflictError,
    IdentityError,
    NotARepositoryError,
    ParameterError,
    PathEscapeError,
    PlanRunningError,
    PolicyError,
    ReportError,
    RunbookError,
    RunNotRunningError,
    RunRefusedError,
    RunStoreLostError,
    StoreError,
    TargetLockedError,
    TooManyFailuresError,
    UnknownArtifactError,
    UnknownAutosaveError,
    UnknownCatalogEntryError,
    UnknownPlanError,
    UnknownPlaybookError,
    UnknownPlaybookRunError,
    UnknownRunbookError,
    UnknownRunError,
    UnknownSessionError,
    UnknownStandingApprovalError,
    UnknownTemplateError,
    UnknownTokenError,
    UnknownWorkflowError,
    UnknownWorkflowRunError,
    UsageError,
    WebhookAuthError,
)

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
EXIT_STOPPED: Final = 3
EXIT_REFUSED: Final = 4
EXIT_INTERRUPTED: Final = 130


@dataclass(frozen=True)
class Status:
    """How one kind of outcome is told: an exit code and an HTTP status."""

    exit_code: int
    http: int


_NOT_FOUND: Final = Status(EXIT_USAGE, 404)
_CONFLICT: Final = Status(EXIT_FAILURE, 409)

#: Error class → status, most specific first: the first class an error is an instance of.
ERROR_STATUSES: Final[tuple[tuple[type[RunbookError], Status], ...]] = (
    (UnknownRunbookError, _NOT_FOUND),
    (UnknownPlanError, _NOT_FOUND),
    (UnknownStandingApprovalError, _NOT_FOUND),
    (UnknownRunError, _NOT_FOUND),
    (UnknownArtifactError, _NOT_FOUND),
    (UnknownWorkflowRunError, _NOT_FOUND),
    (UnknownWorkflowError, _NOT_FOUND),
    (UnknownPlaybookError, _NOT_FOUND),
    (UnknownPlaybookRunError, _NOT_FOUND),
    (UnknownTemplateError, _NOT_FOUND),
    (UnknownTokenError, _NOT_FOUND),
    (UnknownSessionError, _NOT_FOUND),
    (UnknownAutosaveError, _NOT_FOUND),
    (IdempotencyConflictError, Status(EXIT_USAGE, 409)),
    (UnknownCatalogEntryError, _NOT_FOUND),
    (AlertPayloadError, Status(EXIT_USAGE, 422)),
    (ParameterError, Status(EXIT_USAGE, 422)),
    (IdentityError, Status(EXIT_USAGE, 422)),
    (NotARepositoryError, Status(EXIT_USAGE, 400)),
    (PathEscapeError, Status(EXIT_USAGE, 400)),
    (UsageError, Status(EXIT_USAGE, 400)),
    # Refused at the start of a run: its HTTP status is its cause's (see status_of).
    (RunRefusedError, Status(EXIT_REFUSED, 403)),
    # The runbook, not the caller's rights, is what is wrong: unprocessable, like a bad spec.
    (CheckFailedError, Status(EXIT_FAILURE, 422)),
    (WebhookAuthError, Status(EXIT_FAILURE, 401)),
    (PlanRunningError, _CONFLICT),
    (TargetLockedError, _CONFLICT),
    (TooManyFailuresError, Status(EXIT_FAILURE, 429)),
    (CredentialsError, Status(EXIT_FAILURE, 401)),
    (ForbiddenError, Status(EXIT_FAILURE, 403)),
    (PolicyError, Status(EXIT_FAILURE, 403)),
    (RunStoreLostError, Status(EXIT_STOPPED, 503)),
    (StoreError, Status(EXIT_FAILURE, 503)),
    (DataSourceError, Status(EXIT_FAILURE, 502)),
    (EgressError, Status(EXIT_FAILURE, 502)),
    (AlreadyExistsError, _CONFLICT),
    (AuditTamperedError, _CONFLICT),
    (GateNotWaitingError, _CONFLICT),
    (RunNotRunningError, _CONFLICT),
    # The server's own configuration or tools are at fault, not the request; 500 is kept
    # for the unexpected, so that no RunbookError reads as an internal error.
    (ConfigError, Status(EXIT_FAILURE, 503)),
    (ReportError, Status(EXIT_FAILURE, 503)),
    (FailureError, Status(EXIT_FAILURE, 422)),
    (RunbookError, Status(EXIT_FAILURE, 422)),
)

#: Final state → exit code, for ``run``, ``workflow run`` and ``playbook run``: their states
#: share names, and a name means the same everywhere. A record still running when its
#: command returns (its lease was taken over) is a failure.
STATE_EXIT_CODES: Final[dict[str, int]] = {
    "succeeded": EXIT_OK,
    "failed": EXIT_FAILURE,
    "aborted": EXIT_STOPPED,
    "rolled_back": EXIT_STOPPED,
    "cancelled": EXIT_STOPPED,
    "interrupted": EXIT_STOPPED,
    "running": EXIT_FAILURE,
}


def status_of(error: RunbookError) -> Status:
    """The status of an error: a refused run exits 4 with its cause's HTTP status."""
    status = next(s for cls, s in ERROR_STATUSES if isinstance(error, cls))
    if isinstance(error, RunRefusedError):
        return Status(status.exit_code, status_of(error.cause).http)
    return status


def exit_code_for(error: RunbookError) -> int:
    """The documented exit code of an error."""
    return status_of(error).exit_code


def exit_code_for_state(state: StrEnum) -> int:
    """The exit code of a command that ran something to ``state`` (a run's, a workflow
    run's or a playbook run's)."""
    return STATE_EXIT_CODES[state.value]
