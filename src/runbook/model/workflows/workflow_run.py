"""A workflow run: one execution of a workflow's DAG, and the record of each of its tasks.

Each task of a workflow run is executed as a Runbook run of its own (a plan, a run record,
cell events, audit events); the task record links the two and says where the executed
notebook is, which is what downstream tasks receive as the value of a reference to it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from runbook.model.run import RunState

if TYPE_CHECKING:  # the workflow model pulls in YAML; the store (every command) imports this
    from runbook.model.workflows.workflow import WorkflowSpec


class WorkflowState(StrEnum):
    """Where a workflow run is; ``interrupted`` means its process died (outcome unknown)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        """True for every state but running."""
        return self is not WorkflowState.RUNNING


class TaskState(StrEnum):
    """What became of one task of a workflow run."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: Not run because a task it depends on failed.
    UPSTREAM_FAILED = "upstream_failed"
    #: Not run again on resume: the earlier run's successful output is reused.
    REUSED = "reused"
    INTERRUPTED = "interrupted"

    @property
    def ok(self) -> bool:
        """True when downstream tasks may use this task's executed notebook."""
        return self in (TaskState.SUCCEEDED, TaskState.REUSED)


def task_state_of_run(state: RunState) -> TaskState:
    """What a task whose run record says ``state`` became, when its workflow's process died.

    The run's own record is the truth: a run that succeeded is a succeeded task (never run
    again by ``resume``); one that failed, was aborted or rolled back is a failed task; one
    interrupted or still marked running has an unknown outcome.
    """
    if state is RunState.SUCCEEDED:
        return TaskState.SUCCEEDED
    if state in (RunState.FAILED, RunState.ABORTED, RunState.ROLLED_BACK):
        return TaskState.FAILED
    return TaskState.INTERRUPTED


class TriggerKind(StrEnum):
    """What started a workflow run."""

    MANUAL = "manual"
    SCHEDULE = "schedule"
    SENSOR = "sensor"


@dataclass(frozen=True)
class TaskRecord:
    """One task of one workflow run."""

    workflow_run_id: str
    key: str
    state: TaskState = TaskState.PENDING
    attempts: int = 0
    plan_id: str | None = None
    run_id: str | None = None
    #: The executed notebook, relative to the repository: what a reference to this task is.
    notebook_path: str | None = None
    reports: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    message: str | None = None


@dataclass(frozen=True)
class WorkflowRun:
    """The record of one workflow run, with a frozen copy of the definition it ran."""

    id: str
    workflow: str
    source: str
    spec: WorkflowSpec
    parameters: dict[str, Any]
    trigger: TriggerKind
    started_by: str
    state: WorkflowState
    started_at: datetime
    reference_date: dt.date | None = None
    date_ranges: list[list[str]] | None = None
    ended_at: datetime | None = None
    resumed_from: str | None = None
    #: What a sensor or schedule firing is (see :func:`sensor_claim`); None when manual.
    natural_key: str | None = None
    #: ``natural_key`` while the firing counts as done (unique in the store), else None.
    claim: str | None = None
    message: str | None = None
    lease_owner: str = ""
    lease_epoch: int = 1
    heartbeat_at: datetime | None = None


def new_workflow_run_id(now: datetime | None = None) -> str:
    """A sortable, readable workflow run id: ``wf-<UTC timestamp>-<4 hex>``."""
    moment = now or datetime.now(UTC)
    return f"wf-{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def spec_to_json(spec: WorkflowSpec) -> dict[str, Any]:
    """The workflow definition as JSON, to freeze it in the run record.

    Dates a YAML file holds unquoted (a default, a sensor's ``earliest_date``, a stencil)
    become ISO text: every reader of them takes either.
    """
    plain: dict[str, Any] = _plain(asdict(spec))
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dt.date):  # a datetime too
        return value.isoformat()
    return value


def spec_from_json(data: dict[str, Any]) -> WorkflowSpec:
    """The inverse of :func:`spec_to_json`."""
    from runbook.model.workflows.workflow import OutputSpec, TaskSpec, Trigger, WorkflowSpec

    tasks = {
        key: TaskSpec(
            key=task["key"],
            filename=task["filename"],
            parameters=dict(task["parameters"]),
            output=OutputSpec(**task["output"]) if task.get("output") else None,
            retries=int(task.get("retries", 0)),
            retry_delay=float(task.get("retry_delay", 0.0)),
            timeout=float(task["timeout"]) if task.get("timeout") is not None else None,
        )
        for key, task in data["tasks"].items()
    }
    return WorkflowSpec(
        name=data["name"],
        tasks=tasks,
        parameters=dict(data.get("parameters", {})),
        triggers=[Trigger(**trigger) for trigger in data.get("triggers", [])],
        required=tuple(data.get("required", ())),
    )


def sensor_claim(workflow: str, reference_date: dt.date, parameters_key: str) -> str:
    """The claim of a sensor firing: one (workflow, date, parameters) is done once."""
    return f"sensor|{workflow}|{reference_date.isoformat()}|{parameters_key}"


def schedule_claim(workflow: str, trigger_index: int, fire_at: datetime) -> str:
    """The claim of a schedule firing: one fire time of one trigger starts one run."""
    return f"schedule|{workflow}|{trigger_index}|{fire_at.astimezone(UTC).isoformat()}"
