from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from sqlalchemy.orm import Session

from runbook.errors import (
    ParameterError,
    PlanModifiedError,
    PlanUnreadableError,
    ReviewRequiredError,
    SelfReviewError,
)
from runbook.model.repository import Repository
from runbook.model.review import Verdict
from runbook.orchestrate import plan_writing
from runbook.orchestrate.planning import ensure_runnable, plan_runbook
from runbook.orchestrate.reviewing import review_plan
from runbook.store.plans import get_plan, list_plans


def make_runbook(
    repo: Repository,
    name: str = "restart",
    *,
    tags: list[str] | None = None,
    parameters: dict[str, object] | None = None,
) -> Path:
    """A runbook with a declared host, an optional port and a confirm step."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Restart"),
        nbformat.v4.new_code_cell(
            "host = 'localhost'\nport = 5432", metadata={"tags": ["parameters"]}
        ),
        nbformat.v4.new_code_cell("print(host, port)", metadata={"tags": ["precheck"]}),
        nbformat.v4.new_code_cell("print('restart', host)", metadata={"tags": ["confirm"]}),
    ]
    notebook.metadata["runbook"] = {
        "title": "Restart",
        "tags": tags or [],
        "parameters": parameters
        or {"host": {"type": "str", "required": True}, "port": {"type": "int", "default": 5432}},
    }
    path = repo.runbooks_dir / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path


def test_plan_binds_values_writes_the_notebook_and_records_it(
    repo: Repository, session: Session
) -> None:
    plan = plan_runbook(session, repo, make_runbook(repo), {"host": "db1"}, planner="alice")
    assert plan.parameters == {"host": "db1", "port": 5432}
    assert plan.notebook_path == f"runs/plans/{plan.id}.ipynb"
    stored = get_plan(session, plan.id)
    assert stored.sha256 == plan.sha256 and stored.planned_by == "alice"
    planned = nbformat.read(repo.root / plan.notebook_path, as_version=4)
    tags = [c.metadata.get("tags", []) for c in planned.cells]
    assert tags == [[], ["parameters"], ["injected-parameters"], ["precheck"], ["confirm"]]
    assert planned.cells[2].source == "# Parameters\nhost = 'db1'\nport = 5432\n"
    assert planned.metadata["runbook"]["plan"]["id"] == plan.id


def test_unknown_and_invalid_parameters_are_refused(repo: Repository, session: Session) -> None:
    path = make_runbook(repo)
    with pytest.raises(ParameterError, match="'hots': not a parameter of this runbook"):
        plan_runbook(session, repo, path, {"hots": "db1"}, planner="alice")
    with pytest.raises(ParameterError, match=r"'port'.*not a valid int"):
        plan_runbook(session, repo, path, {"host": "db1", "port": "many"}, planner="alice")
    with pytest.raises(
        ParameterError, match="'host': is required but has no value; pass -p host VALUE"
    ):
        plan_runbook(session, repo, path, {}, planner="alice")
    assert list_plans(session) == []
    assert list(repo.plans_dir.glob("*")) == []


def test_missing_required_values_are_asked_for(repo: Repository, session: Session) -> None:
    asked: list[str] = []

    def prompt(spec: object) -> object:
        asked.append(spec.name)  # type: ignore[attr-defined]
        return "db9"

    plan = plan_runbook(session, repo, make_runbook(repo), {}, planner="a", prompt=prompt)
    assert asked == ["host"] and plan.parameters["host"] == "db9"


def test_secret_parameters_are_stored_as_references(repo: Repository, session: Session) -> None:
    path = make_runbook(
        repo,
        parameters={
            "host": {"type": "str", "default": "x"},
            "port": {"type": "int", "default": 5432},
            "password": {"type": "str", "secret": True},
        },
    )
    with pytest.raises(ParameterError, match="is secret"):
        plan_runbook(session, repo, path, {"password": "hunter2"}, planner="a")
    plan = plan_runbook(session, repo, path, {"password": "env:PGPASS"}, planner="a")
    assert plan.parameters["password"] == "env:PGPASS"
    default = plan_runbook(session, repo, path, {}, planner="a")
    assert default.parameters["password"] == "secret:password"


def test_a_crash_while_writing_leaves_no_plan(
    repo: Repository, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_runbook(repo)

    def crash(fd: int) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="power cut"):
        plan_runbook(session, repo, path, {"host": "db1"}, planner="alice")
    monkeypatch.undo()
    assert list_plans(session) == []
    assert not repo.plans_dir.exists() or list(repo.plans_dir.iterdir()) == []


def test_a_crash_while_recording_removes_the_written_file(
    repo: Repository, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(session: Session, plan: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(plan_writing, "create_plan", crash)
    with pytest.raises(RuntimeError):
        plan_runbook(session, repo, make_runbook(repo), {"host": "db1"}, planner="alice")
    assert list(repo.plans_dir.iterdir()) == []


def test_review_flow_self_review_approval_and_tampering(repo: Repository, session: Session) -> None:
    plan = plan_runbook(
        session, repo, make_runbook(repo, tags=["critical"]), {"host": "db1"}, planner="alice"
    )
    assert plan.review_required
    with pytest.raises(ReviewRequiredError, match="needs an approval"):
        ensure_runnable(session, repo, plan.id)
    with pytest.raises(SelfReviewError, match="alice planned it"):
        review_plan(session, repo, plan.id, Verdict.APPROVED, reviewer="ALICE")
    review = review_plan(session, repo, plan.id, Verdict.APPROVED, reviewer="bob", comment="lgtm")
    assert review.plan_sha256 == plan.sha256
    assert ensure_runnable(session, repo, plan.id).id == plan.id
    assert get_plan(session, plan.id).state == "approved"

    plan_file = repo.root / plan.notebook_path
    content = json.loads(plan_file.read_text())
    content["cells"][2]["source"] = ["host = 'prod-db1'\n"]
    plan_file.write_text(json.dumps(content))
    with pytest.raises(PlanModifiedError, match="modified after planning"):
        ensure_runnable(session, repo, plan.id)
    with pytest.raises(PlanModifiedError):
        review_plan(session, repo, plan.id, Verdict.APPROVED, reviewer="carol")


def test_reformatting_the_plan_file_is_not_a_change(repo: Repository, session: Session) -> None:
    plan = plan_runbook(session, repo, make_runbook(repo), {"host": "db1"}, planner="alice")
    plan_file = repo.root / plan.notebook_path
    plan_file.write_text(json.dumps(json.loads(plan_file.read_text()), indent=4))
    assert ensure_runnable(session, repo, plan.id).id == plan.id


def test_a_runbook_saved_as_nbformat_4_2_gives_a_plan_that_may_run(
    repo: Repository, session: Session
) -> None:
    # As Jupyter saved notebooks in 2017: no cell ids, which nbformat 4.2 does not allow.
    saved = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {"tags": ["parameters"]},
                "outputs": [],
                "source": ["host = 'localhost'"],
            },
            {"cell_type": "markdown", "metadata": {}, "source": ["Done."]},
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 2,
    }
    path = repo.runbooks_dir / "old.ipynb"
    path.write_text(json.dumps(saved))
    plan = plan_runbook(session, repo, path, {"host": "db1"}, planner="alice")
    assert ensure_runnable(session, repo, plan.id).id == plan.id
    planned = nbformat.read(repo.root / plan.notebook_path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(planned)
    assert planned.nbformat_minor == 5 and planned.metadata.runbook.plan.nbformat == "4.2"


def test_a_plan_file_that_cannot_be_read_says_what_is_wrong(
    repo: Repository, session: Session
) -> None:
    plan = plan_runbook(session, repo, make_runbook(repo), {"host": "db1"}, planner="alice")
    plan_file = repo.root / plan.notebook_path
    plan_file.write_text("{")
    with pytest.raises(PlanUnreadableError) as unreadable:
        ensure_runnable(session, repo, plan.id)
    assert str(unreadable.value) == (
        f"plan {plan.id}: {plan.notebook_path} cannot be read as the plan: invalid JSON at "
        "line 1 column 2: Expecting property name enclosed in double quotes; any review of "
        "it is void; plan the runbook again"
    )
    plan_file.write_text(json.dumps({**json.loads(plan.content), "nbformat_minor": 2}))
    with pytest.raises(PlanUnreadableError, match=r"'id' was unexpected\) at cells\[0\]"):
        review_plan(session, repo, plan.id, Verdict.APPROVED, reviewer="bob")
    plan_file.unlink()  # a missing file is not a change: the store has the plan (plan_store)
    assert ensure_runnable(session, repo, plan.id).id == plan.id
