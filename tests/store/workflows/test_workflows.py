"""Workflow records on SQLite and PostgreSQL: a dead workflow's tasks take their runs' states."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session

from runbook.model.plan import Plan
from runbook.model.run import Run, RunMode, RunState
from runbook.model.workflows.workflow import load_workflows
from runbook.model.workflows.workflow_run import TaskState, TriggerKind, WorkflowRun, WorkflowState
from runbook.store.plans import create_plan
from runbook.store.runs import create_run, finish_run
from runbook.store.workflows.workflow_runs import (
    create_workflow_run,
    list_tasks,
    reconcile_tasks,
    sweep_workflow_runs,
    update_task,
)
from tests.store.conftest import T0

FOUR = """
workflows:
  - name: four
    notebooks:
      done: {filename: a.ipynb}
      broke: {filename: a.ipynb}
      unknown: {filename: a.ipynb}
      unrecorded: {filename: a.ipynb}
"""


def run(run_id: str, plan_id: str) -> Run:
    return Run(
        id=run_id,
        plan_id=plan_id,
        executor="alice",
        mode=RunMode.AUTOMATIC,
        state=RunState.RUNNING,
        started_at=T0,
        notebook_path=f"runs/{run_id}/{plan_id}.ipynb",
        lease_owner="host:1",
        heartbeat_at=T0,
    )


def test_a_swept_workflows_tasks_take_their_runs_states(
    session: Session, make_plan: Callable[..., Plan]
) -> None:
    spec = load_workflows(FOUR).workflows["four"]
    workflow = WorkflowRun(
        id="wf-1",
        workflow="four",
        source="workflows/four.yml",
        spec=spec,
        parameters={},
        trigger=TriggerKind.MANUAL,
        started_by="alice",
        state=WorkflowState.RUNNING,
        started_at=T0,
        lease_owner="host:1",
        heartbeat_at=T0,
    )
    assert create_workflow_run(session, workflow, spec.tasks)
    for key, state in (("done", RunState.SUCCEEDED), ("broke", RunState.FAILED)):
        create_plan(session, make_plan(f"p-{key}"))
        create_run(session, run(f"r-{key}", f"p-{key}"))
        finish_run(session, f"r-{key}", 1, state, "why" if key == "broke" else None, now=T0)
    create_plan(session, make_plan("p-unknown"))
    create_run(session, run("r-unknown", "p-unknown"))  # its process died with the workflow's
    for key in ("done", "broke", "unknown"):
        update_task(session, "wf-1", key, state=TaskState.RUNNING, run_id=f"r-{key}")
    update_task(session, "wf-1", "unrecorded", state=TaskState.RUNNING)

    later = T0 + timedelta(minutes=5)
    assert sweep_workflow_runs(session, lease_seconds=30, now=later) == ["wf-1"]
    tasks = {task.key: task for task in list_tasks(session, "wf-1")}
    assert {key: task.state for key, task in tasks.items()} == {
        "done": TaskState.SUCCEEDED,
        "broke": TaskState.FAILED,
        "unknown": TaskState.INTERRUPTED,
        "unrecorded": TaskState.INTERRUPTED,
    }
    assert tasks["done"].notebook_path == "runs/r-done/p-done.ipynb"
    assert tasks["done"].ended_at == T0
    assert tasks["broke"].message == "run r-broke failed: why (recorded from the run's record)"
    assert tasks["unrecorded"].message is not None and "not started" in tasks["unrecorded"].message

    # The unknown run ends later (another host's lease, say): resume reconciles it again.
    finish_run(session, "r-unknown", 1, RunState.SUCCEEDED, now=later)
    assert reconcile_tasks(session, ["wf-1"]) == ["wf-1/unknown"]
    assert list_tasks(session, "wf-1")[2].state is TaskState.SUCCEEDED
    assert reconcile_tasks(session, ["wf-1"]) == []
