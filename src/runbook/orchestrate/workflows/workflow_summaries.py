"""The JSON forms of workflows, workflow runs and their tasks, for the CLI and the API."""

from __future__ import annotations

from typing import Any

from runbook.model.workflows.workflow import Trigger, WorkflowSpec
from runbook.model.workflows.workflow_run import TaskRecord, WorkflowRun


def workflow_row(spec: WorkflowSpec, where: str) -> dict[str, Any]:
    """The JSON form of a defined workflow (``workflow list --json``, ``GET /workflows``)."""
    return {
        "name": spec.name,
        "file": where,
        "tasks": list(spec.tasks),
        "order": spec.order(),
        "triggers": [_describe(trigger) for trigger in spec.triggers],
    }


def _describe(trigger: Trigger) -> str:
    if trigger.kind == "schedule":
        return f"schedule {trigger.cron} ({trigger.timezone})"
    if trigger.kind == "sensor":
        every = f" every {trigger.cron}" if trigger.cron else ""
        return f"sensor {trigger.sensor_type}{every}"
    return "manual"


def workflow_run_summary(run: WorkflowRun) -> dict[str, Any]:
    """The JSON form of a workflow run (without its tasks)."""
    return {
        "id": run.id,
        "workflow": run.workflow,
        "source": run.source,
        "state": run.state.value,
        "trigger": run.trigger.value,
        "started_by": run.started_by,
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
        "reference_date": run.reference_date.isoformat() if run.reference_date else None,
        "date_ranges": run.date_ranges,
        "parameters": run.parameters,
        "resumed_from": run.resumed_from,
        "message": run.message,
    }


def task_summary(task: TaskRecord) -> dict[str, Any]:
    """The JSON form of a task record."""
    return {
        "key": task.key,
        "state": task.state.value,
        "attempts": task.attempts,
        "plan": task.plan_id,
        "run": task.run_id,
        "notebook": task.notebook_path,
        "reports": task.reports,
        "started_at": task.started_at.isoformat() if task.started_at else None,
        "ended_at": task.ended_at.isoformat() if task.ended_at else None,
        "message": task.message,
    }
