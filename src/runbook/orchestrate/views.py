"""The read queries as a given principal sees them: :mod:`runbook.orchestrate.reading` and
:mod:`runbook.orchestrate.run_history`, with :mod:`runbook.model.redaction` applied."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from runbook.model.redaction import (
    HIDDEN_DIFF,
    hides_private,
    plan_tags,
    redact_plan,
    redact_run,
    redact_runbook,
)
from runbook.model.repository import Repository
from runbook.model.roles import Principal
from runbook.model.run import Run, RunState
from runbook.orchestrate.plan_diff import plan_diff
from runbook.orchestrate.reading import list_plans, list_runbooks, plan_details, runbook_details
from runbook.orchestrate.run_history import current_run, find_runs, show_run
from runbook.orchestrate.summaries import run_log_summary, run_summary
from runbook.store.plans import get_plan


def runbooks_seen(repo: Repository, principal: Principal) -> list[dict[str, Any]]:
    """``runbook list`` as ``principal`` may see it."""
    return [
        redact_runbook(row) if hides_private(principal, row.get("tags", ())) else row
        for row in list_runbooks(repo)
    ]


def runbook_seen(repo: Repository, name: str, principal: Principal) -> dict[str, Any]:
    """``runbook show`` as ``principal`` may see it."""
    details = runbook_details(repo, name)
    return redact_runbook(details) if hides_private(principal, details["tags"]) else details


def plans_seen(
    session: Session,
    repo: Repository,
    principal: Principal,
    *,
    runbook: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """``runbook plans`` as ``principal`` may see it."""
    rows = list_plans(session, repo, runbook=runbook, limit=limit, offset=offset)
    if not principal.anonymous:
        return rows
    return [
        redact_plan(row)
        if hides_private(principal, plan_tags(get_plan(session, row["id"])))
        else row
        for row in rows
    ]


def plan_seen(
    session: Session, repo: Repository, plan_id: str, principal: Principal
) -> dict[str, Any]:
    """``runbook show-plan`` as ``principal`` may see it."""
    details = plan_details(session, repo, plan_id)
    shown = details.to_json()
    return redact_plan(shown) if hides_private(principal, plan_tags(details.plan)) else shown


def plan_diff_seen(
    session: Session, repo: Repository, plan_id: str, principal: Principal
) -> dict[str, Any]:
    """A plan's diff against its runbook as ``principal`` may see it: the diff shows the
    values injected, so it is hidden wherever the values are."""
    plan = get_plan(session, plan_id)
    if hides_private(principal, plan_tags(plan)):
        return dict(HIDDEN_DIFF)
    return plan_diff(session, repo, plan).to_json()


def runs_seen(
    session: Session,
    repo: Repository,
    principal: Principal,
    *,
    plan_id: str | None = None,
    state: RunState | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """``runbook runs`` as ``principal`` may see it."""
    runs = find_runs(session, repo, plan_id=plan_id, state=state, limit=limit, offset=offset)
    return [_run_seen(session, principal, run, run_summary(run)) for run in runs]


def run_seen(
    session: Session, repo: Repository, run_id: str, principal: Principal
) -> dict[str, Any]:
    """One run as ``principal`` may see it."""
    run = current_run(session, repo, run_id)
    return _run_seen(session, principal, run, run_summary(run))


def run_log_seen(
    session: Session, repo: Repository, run_id: str, principal: Principal
) -> dict[str, Any]:
    """``runbook log`` as ``principal`` may see it."""
    run, events = show_run(session, repo, run_id)
    return _run_seen(session, principal, run, run_log_summary(run, events))


def _run_seen(
    session: Session, principal: Principal, run: Run, summary: dict[str, Any]
) -> dict[str, Any]:
    if not principal.anonymous:
        return summary
    private = hides_private(principal, plan_tags(get_plan(session, run.plan_id)))
    return redact_run(summary) if private else summary
