"""The one table of exit codes and HTTP statuses, pinned: every error class and final state."""

from __future__ import annotations

import inspect
import itertools

import pytest

import runbook.errors as errors
from runbook.errors import (
    PlanRunningError,
    ReviewRequiredError,
    RunbookError,
    RunRefusedError,
    refuses_runs,
)
from runbook.model.playbooks.playbook_run import PlaybookRunState
from runbook.model.run import RunState
from runbook.model.workflows.workflow_run import WorkflowState
from runbook.outcomes import (
    ERROR_STATUSES,
    STATE_EXIT_CODES,
    exit_code_for_state,
    status_of,
)

ERROR_CLASSES = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, RunbookError) and cls.__module__.startswith(errors.__name__)
]

#: What each error tells (exit code, HTTP status): changing one is a change users see.
PINNED = {
    "UsageError": (2, 400),
    "NotARepositoryError": (2, 400),
    "PathEscapeError": (2, 400),
    "UnknownRunbookError": (2, 404),
    "UnknownPlanError": (2, 404),
    "PlaybookPlanError": (2, 400),
    "UnknownStandingApprovalError": (2, 404),
    "UnknownRunError": (2, 404),
    "UnknownArtifactError": (2, 404),
    "UnknownWorkflowRunError": (2, 404),
    "UnknownWorkflowError": (2, 404),
    "UnknownPlaybookError": (2, 404),
    "UnknownPlaybookRunError": (2, 404),
    "UnknownTemplateError": (2, 404),
    "IdempotencyConflictError": (2, 409),
    "ParameterError": (2, 422),
    "IdentityError": (2, 422),
    "FailureError": (1, 422),
    "NotebookFormatError": (1, 422),
    "MetadataError": (1, 422),
    "SpecError": (1, 422),
    "InjectionError": (1, 422),
    "ConfigError": (1, 503),
    "ReportError": (1, 503),
    "AlreadyExistsError": (1, 409),
    "PolicyError": (1, 403),
    "CheckFailedError": (1, 422),
    "SelfReviewError": (1, 403),
    "StandingRefusedError": (1, 403),
    "ReviewRequiredError": (1, 403),
    "PlaybookReviewError": (1, 403),
    "PlanModifiedError": (1, 403),
    "PlanUnreadableError": (1, 403),
    "PlanCodeChangedError": (1, 403),
    "PlanFolderError": (1, 403),
    "NotAPlanError": (1, 403),
    "SignatureError": (1, 403),
    "NothingToWithdrawError": (1, 403),
    "PlanRunningError": (1, 409),
    "TargetLockedError": (1, 409),
    "RunRefusedError": (4, 403),
    "StoreError": (1, 503),
    "StoreUnavailableError": (1, 503),
    "DataSourceError": (1, 502),
    "RunStoreLostError": (3, 503),
    "AuditTamperedError": (1, 409),
    "EgressError": (1, 502),
    "GateNotWaitingError": (1, 409),
    "GateDeciderError": (1, 403),
    "RunNotRunningError": (1, 409),
    "RunbookError": (1, 422),
    "CredentialsError": (1, 401),
    "TooManyFailuresError": (1, 429),
    "ForbiddenError": (1, 403),
    "UnknownTokenError": (2, 404),
    "UnknownSessionError": (2, 404),
    "UnknownAutosaveError": (2, 404),
    "UnknownCatalogEntryError": (2, 404),
    "AlertPayloadError": (2, 422),
    "WebhookAuthError": (1, 401),
}


def _first_status(cls: type[RunbookError]) -> tuple[int, int]:
    status = next(s for c, s in ERROR_STATUSES if issubclass(cls, c))
    return status.exit_code, status.http


def test_every_error_class_has_its_pinned_status() -> None:
    assert {cls.__name__ for cls in ERROR_CLASSES} == set(PINNED)
    assert {cls.__name__: _first_status(cls) for cls in ERROR_CLASSES} == PINNED


def test_no_entry_of_the_table_is_shadowed_by_an_earlier_one() -> None:
    for (earlier, _), (later, _) in itertools.combinations(ERROR_STATUSES, 2):
        assert not issubclass(later, earlier), f"{later.__name__} after {earlier.__name__}"


def test_a_refused_run_exits_4_with_its_causes_http_status() -> None:
    running = RunRefusedError(PlanRunningError("plan p is already running"))
    assert (status_of(running).exit_code, status_of(running).http) == (4, 409)
    review = RunRefusedError(ReviewRequiredError("p", "it needs an approval"))
    assert (status_of(review).exit_code, status_of(review).http) == (4, 403)


def test_use_cases_that_start_runs_turn_policy_errors_into_refusals() -> None:
    @refuses_runs
    def start() -> None:
        raise PlanRunningError("plan p is already running")

    with pytest.raises(RunRefusedError) as refused:
        start()
    assert isinstance(refused.value.cause, PlanRunningError)
    assert refused.value.lines() == refused.value.cause.lines()


@pytest.mark.parametrize("state", [*RunState, *WorkflowState, *PlaybookRunState])
def test_every_final_state_has_an_exit_code(state: RunState) -> None:
    assert state.value in STATE_EXIT_CODES
    expected = {"succeeded": 0, "failed": 1, "running": 1}.get(state.value, 3)
    assert exit_code_for_state(state) == expected
