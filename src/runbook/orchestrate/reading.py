"""What the read commands and the read routes show: the same queries, the same JSON.

``runbook list|show|plans|show-plan|runs|log|audit`` and the API's GET routes call these;
neither edge shapes records of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.orm import Session

from runbook.errors import AuditTamperedError, RunbookError, UsageError
from runbook.model.audit import AuditEvent, plan_subject, run_subject
from runbook.model.injection import cell_tags
from runbook.model.notebook import load_runbook
from runbook.model.plan import Plan
from runbook.model.readiness import Readiness
from runbook.model.repository import Repository
from runbook.model.review import Review
from runbook.orchestrate.audit_verify import AuditVerdict
from runbook.orchestrate.plan_code import ModuleStatus, module_statuses
from runbook.orchestrate.planning import list_plan_readiness, plan_readiness
from runbook.orchestrate.summaries import (
    module_summary,
    plan_summary,
    review_summary,
    runbook_summary,
)
from runbook.store.audit import list_events
from runbook.store.plans import get_plan
from runbook.store.reviews import list_reviews

# More findings than this are summed up in one line; the JSON form lists them all.
MAX_FINDINGS: Final = 50


def list_runbooks(repo: Repository) -> list[dict[str, Any]]:
    """Every runbook under ``runbooks/``; one that cannot be read is a row with its error."""
    rows: list[dict[str, Any]] = []
    for path in repo.runbook_paths():
        try:
            rows.append(runbook_summary(repo, load_runbook(path, repo.relative(path))))
        except RunbookError as error:
            rows.append(
                {"name": repo.runbook_name(path), "path": repo.relative(path), "error": str(error)}
            )
    return rows


def runbook_details(repo: Repository, name: str) -> dict[str, Any]:
    """One runbook: its summary and every cell with its tags and source."""
    path = repo.find_runbook(name)
    loaded = load_runbook(path, repo.relative(path))
    return {
        **runbook_summary(repo, loaded),
        "cells": [
            {"index": i, "type": c.cell_type, "tags": cell_tags(c), "source": c.source}
            for i, c in enumerate(loaded.notebook.cells)
        ],
    }


def list_plans(
    session: Session,
    repo: Repository,
    *,
    runbook: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Plans, newest first (optionally of one runbook), with whether each may run now."""
    runbook_path = repo.relative(repo.find_runbook(runbook)) if runbook else None
    listed = list_plan_readiness(
        session, repo, runbook_path=runbook_path, limit=limit, offset=offset
    )
    return [{**plan_summary(plan), "status": readiness.status} for plan, readiness in listed]


@dataclass(frozen=True)
class PlanDetails:
    """A plan with what ``show-plan`` shows of it: readiness, modules and reviews."""

    plan: Plan
    readiness: Readiness
    modules: list[ModuleStatus]
    reviews: list[Review]

    def to_json(self) -> dict[str, Any]:
        """The JSON form, as ``show-plan --json`` prints it."""
        return {
            **plan_summary(self.plan),
            "status": self.readiness.status,
            "ready": self.readiness.ready,
            "reason": self.readiness.reason,
            "modules": [module_summary(m) for m in self.modules],
            "reviews": [review_summary(r) for r in self.reviews],
        }


def plan_details(session: Session, repo: Repository, plan_id: str) -> PlanDetails:
    """The plan ``plan_id`` with its readiness, modules and reviews."""
    plan = get_plan(session, plan_id)
    readiness = plan_readiness(session, repo, plan)
    reviews = list_reviews(session, plan.id)
    return PlanDetails(plan, readiness, module_statuses(repo, plan), reviews)


def audit_subject(run_id: str | None, plan_id: str | None) -> str | None:
    """The audit subject a log is narrowed to: a run's, a plan's, or none (not both)."""
    if run_id is not None and plan_id is not None:
        raise UsageError("give a run or a plan, not both")
    if run_id is not None:
        return run_subject(run_id)
    return plan_subject(plan_id) if plan_id is not None else None


def latest_events(session: Session, subject: str | None, limit: int) -> list[AuditEvent]:
    """The latest ``limit`` audit events (of ``subject``), oldest first."""
    events = list_events(session, subject=subject, limit=limit, newest_first=True)
    events.reverse()
    return events


def tampered(verdict: AuditVerdict) -> AuditTamperedError:
    """The error a failed check is told as: its findings, at most :data:`MAX_FINDINGS`."""
    shown = verdict.findings
    if len(shown) > MAX_FINDINGS:
        rest = len(shown) - MAX_FINDINGS + 1
        shown = [*shown[: MAX_FINDINGS - 1], f"{rest} more findings: see --json"]
    return AuditTamperedError(shown[0], verdict.first_bad_id, shown)
