"""Starting a workflow by hand, as ``runbook workflow run`` and ``POST /workflows/{name}/runs``
do: in the caller's thread (the CLI), or recorded there and executed in the background
(the service: :class:`runbook.orchestrate.background.Background`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import FailureError
from runbook.model.repository import Repository
from runbook.model.workflows.workflow_run import WorkflowRun
from runbook.orchestrate.background import Announce, Background
from runbook.orchestrate.run_artifacts import publish_runs
from runbook.orchestrate.workflows.dag import (
    WorkflowRequest,
    begin_resume,
    begin_workflow,
    execute_workflow,
)
from runbook.orchestrate.workflows.dag_execution import TaskListener
from runbook.orchestrate.workflows.workflow_files import find_workflow, manual_dates, settings_for
from runbook.store.artifacts import ArtifactStore
from runbook.store.workflows.workflow_runs import list_tasks


def manual_request(
    repository: Repository,
    name: str,
    *,
    started_by: str,
    parameters: Mapping[str, object],
    reference_date: dt.date | None = None,
    listener: TaskListener | None = None,
) -> WorkflowRequest:
    """What running workflow ``name`` by hand asks for: its definition, the values given,
    the reference date (today, UTC, by default) and the date ranges it implies."""
    workflow = find_workflow(repository, settings_for(repository), name)
    day = reference_date or dt.datetime.now(dt.UTC).date()
    return WorkflowRequest(
        spec=workflow.spec,
        source=workflow.source,
        started_by=started_by,
        parameters=parameters,
        reference_date=day,
        date_ranges=manual_dates(workflow, day),
        listener=listener,
    )


def launch_workflow(
    background: Background,
    sessions: sessionmaker[Session],
    repository: Repository,
    request: WorkflowRequest,
    artifacts: ArtifactStore | None = None,
) -> WorkflowRun:
    """Record a workflow run here (refusals and bad parameters raise here), then execute it
    in the background; the run as recorded at its start. Its tasks' runs go to
    ``artifacts`` once it ended."""
    settings = settings_for(repository)

    def work(announce: Announce[WorkflowRun]) -> None:
        run = begin_workflow(sessions, repository, request)
        if run is None:  # a manual run has no natural key to collide on
            raise FailureError(f"workflow {request.spec.name}: its firing is already claimed")
        announce(run)
        execute_workflow(sessions, repository, settings, run, request.listener)
        _publish(sessions, repository, run.id, artifacts)

    return background.launch(f"workflow {request.spec.name}", work)


def launch_resume(
    background: Background,
    sessions: sessionmaker[Session],
    repository: Repository,
    run_id: str,
    started_by: str,
    artifacts: ArtifactStore | None = None,
) -> WorkflowRun:
    """Record the run resuming ``run_id`` here, then execute it in the background."""
    settings = settings_for(repository)

    def work(announce: Announce[WorkflowRun]) -> None:
        run, reused = begin_resume(sessions, repository, run_id, started_by)
        announce(run)
        execute_workflow(sessions, repository, settings, run, reused=reused)
        _publish(sessions, repository, run.id, artifacts)

    return background.launch(f"resume of {run_id}", work)


def _publish(
    sessions: sessionmaker[Session],
    repository: Repository,
    run_id: str,
    artifacts: ArtifactStore | None,
) -> None:
    if artifacts is None:
        return
    with sessions() as session:
        tasks = list_tasks(session, run_id)
    publish_runs(artifacts, repository, (task.run_id for task in tasks))
