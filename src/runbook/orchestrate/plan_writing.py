"""Writing a plan: its record, its notebook's bytes and its audit event, then its file.

Every kind of plan (a runbook bound to values, a playbook frozen with its parameters) is
written here, so that each is kept, hashed and audited alike and any machine on the store
can review, verify and run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nbformat
from sqlalchemy.orm import Session

from runbook.errors import AlreadyExistsError
from runbook.model.audit import EventKind, plan_subject
from runbook.model.forcing import FORCED_KEY, plan_forced
from runbook.model.ids import plan_file
from runbook.model.notebook import parse_notebook
from runbook.model.plan import Plan, PlanState, canonical_json, content_sha256
from runbook.model.repository import Repository
from runbook.model.review_rules import RecordedRules
from runbook.model.working_dir import plan_cwd
from runbook.orchestrate.plan_files import (
    pending_plan_file,
    publish_plan_file,
    sweep_plan_files,
    writing_plan_files,
)
from runbook.store.audit import append_event
from runbook.store.plan_notebooks import store_plan_notebook
from runbook.store.plans import create_plan
from runbook.typing import Notebook


@dataclass(frozen=True)
class PlanHeader:
    """What a plan records beside its notebook (see :class:`~runbook.model.plan.Plan`)."""

    id: str
    runbook_path: str
    title: str
    parameters: dict[str, Any]
    planned_by: str
    planned_at: datetime
    review_required: bool
    review_rules: RecordedRules
    standing_approval: str | None = None


def write_plan(
    session: Session, repository: Repository, notebook: Notebook, header: PlanHeader
) -> Plan:
    """Record the plan notebook ``notebook`` in the store and write its file under
    ``runs/plans/``: the record, the notebook's bytes and the audit event are committed
    together, and the file is published only once they are."""
    sweep_plan_files(session, repository)
    target = plan_file(repository, header.id)
    if target.exists():
        raise AlreadyExistsError(repository.relative(target))
    text = nbformat.writes(notebook) + "\n"
    # Hashed as `run` will read it: what nbformat's writer drops or adds cannot void it.
    canonical = canonical_json(parse_notebook(text, repository.relative(target)))
    plan = Plan(
        id=header.id,
        runbook_path=header.runbook_path,
        title=header.title,
        sha256=content_sha256(canonical),
        parameters=header.parameters,
        planned_by=header.planned_by,
        planned_at=header.planned_at,
        state=PlanState.PLANNED,
        notebook_path=repository.relative(target),
        review_required=header.review_required,
        content=canonical,
        review_rules=header.review_rules,
        standing_approval=header.standing_approval,
    )
    with writing_plan_files(repository):
        pending = pending_plan_file(repository, header.id, text)
        try:
            _record_plan(session, plan, text.encode("utf-8"))
        except BaseException:
            session.rollback()
            pending.unlink(missing_ok=True)
            raise
        publish_plan_file(pending)
    return plan


def _record_plan(session: Session, plan: Plan, notebook: bytes) -> None:
    """The plan's record, its notebook's bytes and its audit event, committed together:
    never one without the others."""
    create_plan(session, plan)
    store_plan_notebook(session, plan.id, notebook)
    append_event(
        session,
        kind=EventKind.PLAN_CREATED,
        actor=plan.planned_by,
        subject=plan_subject(plan.id),
        payload={
            "runbook": plan.runbook_path,
            "sha256": plan.sha256,
            "parameters": plan.parameters,  # secrets are references here, never values
            "cwd": plan_cwd(plan),
            "review_required": plan.review_required,
            FORCED_KEY: plan_forced(plan),  # the check errors the planner overrode
            **_rules_payload(plan),
        },
        at=plan.planned_at,
    )
    session.commit()


def _rules_payload(plan: Plan) -> dict[str, object]:
    payload: dict[str, object] = {}
    if plan.review_rules is not None:
        payload["review_rules"] = plan.review_rules.to_json()
    if plan.standing_approval is not None:
        payload["standing_approval"] = plan.standing_approval
    return payload
