"""The argument types that complete values recorded in the store."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path

import click
import pytest
from sqlalchemy.orm import Session

from runbook.cli.types import (
    PlanId,
    PlaybookName,
    PlaybookRunId,
    RunId,
    StoredValue,
    WorkflowRunId,
)
from runbook.model.repository import Repository
from runbook.model.workflows.workflow import WorkflowSpec
from runbook.model.workflows.workflow_run import TriggerKind, WorkflowRun, WorkflowState
from runbook.store.workflows.workflow_runs import create_workflow_run

STORED = [PlanId, RunId, WorkflowRunId, PlaybookName, PlaybookRunId]


def _with_repo(root: Path) -> click.Context:
    ctx = click.Context(click.Command("runbook"), info_name="runbook")
    ctx.params["repo"] = str(root)
    return ctx


@pytest.mark.parametrize("kind", STORED, ids=lambda kind: kind.__name__)
def test_every_stored_value_names_a_lookup_that_exists(kind: type[StoredValue]) -> None:
    module, _, function = kind.lookup.partition(":")
    assert callable(getattr(import_module(module), function))


@pytest.mark.parametrize("kind", STORED, ids=lambda kind: kind.__name__)
def test_outside_a_repository_nothing_is_completed(kind: type[StoredValue], tmp_path: Path) -> None:
    param = click.Argument(["value"])
    assert kind().shell_complete(_with_repo(tmp_path), param, "") == []


def test_recorded_ids_are_completed_by_prefix(repo: Repository, session: Session) -> None:
    moment = datetime.now(UTC)
    for run_id in ("wf-alpha", "wf-beta"):
        run = WorkflowRun(
            id=run_id,
            workflow="nightly",
            source="workflows/nightly.yaml",
            spec=WorkflowSpec(name="nightly", tasks={}),
            parameters={},
            trigger=TriggerKind.MANUAL,
            started_by="alice",
            state=WorkflowState.SUCCEEDED,
            started_at=moment,
        )
        create_workflow_run(session, run, [])
    session.commit()
    param = click.Argument(["run"])
    found = WorkflowRunId().shell_complete(_with_repo(repo.root), param, "wf-a")
    assert [item.value for item in found] == ["wf-alpha"]
