"""A workflow's tasks that need review, checked before the workflow run starts.

A run a trigger fired (a schedule, a sensor) needs a standing approval of the workflow file
(:mod:`runbook.orchestrate.workflows.workflow_standing`) when one of its tasks needs
review. A run a person started is judged task by task, as follows.

A task notebook that needs review runs under a standing approval for ``workflow:<name>``
(see :mod:`runbook.orchestrate.standing_approvals`). Before anything starts, each such task
must have one that covers its notebook as it is now and the values known up front (the
workflow's parameters, the reference date, the date ranges); a value only an upstream task
gives is checked when the task is planned.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from runbook.errors import StandingRefusedError
from runbook.model.notebook import load_runbook
from runbook.model.repository import Repository
from runbook.model.workflows.workflow_run import WorkflowRun
from runbook.orchestrate.standing_approvals import approving_standing
from runbook.orchestrate.workflows.workflow_files import task_path
from runbook.orchestrate.workflows.workflow_standing import approving_workflow, trigger_caller


def check_unattended_tasks(session: Session, repository: Repository, run: WorkflowRun) -> None:
    """Raise StandingRefusedError, naming the task, when one that needs review has no
    standing approval covering it."""
    if trigger_caller(run) is not None:
        if any(_needs_review(repository, run, key) for key in run.spec.tasks):
            approving_workflow(session, repository, run)
        return
    caller = f"workflow:{run.workflow}"
    for key, task in run.spec.tasks.items():
        path = task_path(repository, run.source, task.filename)
        runbook = load_runbook(path, repository.relative(path))
        if not repository.config.review.requires_review(runbook.meta.tags):
            continue
        known = {
            name: value
            for name, reference in task.parameters.items()
            if (value := _known(run, reference)) is not _UNKNOWN
        }
        try:
            approving_standing(session, repository, runbook, caller, known)
        except StandingRefusedError as refused:
            raise StandingRefusedError(
                refused.runbook, caller, f"task {key}: {refused.reason}"
            ) from None


def _needs_review(repository: Repository, run: WorkflowRun, key: str) -> bool:
    path = task_path(repository, run.source, run.spec.tasks[key].filename)
    runbook = load_runbook(path, repository.relative(path))
    return repository.config.review.requires_review(runbook.meta.tags)


_UNKNOWN = object()


def _known(run: WorkflowRun, reference: str) -> Any:
    if reference in run.spec.tasks:
        return _UNKNOWN  # an upstream task's notebook: known when it has run
    if reference == "reference_date":
        return run.reference_date.isoformat() if run.reference_date else None
    if reference == "date_ranges":
        return run.date_ranges
    return run.parameters.get(reference, _UNKNOWN)
