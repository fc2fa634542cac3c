"""The JSON forms of the records every edge shows: the CLI's ``--json`` and the API's bodies.

One function per record, so that ``runbook show-plan --json`` and ``GET /plans/{id}`` can
never drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # listing runs must not import notebooks, YAML or the audit checks
    from runbook.model.audit import AuditEvent
    from runbook.model.notebook import Runbook
    from runbook.model.plan import Plan
    from runbook.model.repository import Repository
    from runbook.model.review import Review
    from runbook.model.run import CellEvent, Run
    from runbook.orchestrate.audit_verify import AuditVerdict
    from runbook.orchestrate.plan_code import ModuleStatus


def runbook_summary(repo: Repository, runbook: Runbook) -> dict[str, Any]:
    """The JSON form of a runbook's metadata and parameters."""
    return {
        "name": repo.runbook_name(runbook.path),
        "path": repo.relative(runbook.path),
        "title": runbook.meta.title,
        "description": runbook.meta.description,
        "owner": runbook.meta.owner,
        "version": runbook.meta.version,
        "tags": list(runbook.meta.tags),
        "parameters": {name: spec.to_json() for name, spec in runbook.parameters.items()},
        "parameters_declared": runbook.meta.declared is not None,
    }


def plan_summary(plan: Plan) -> dict[str, Any]:
    """The JSON form of a plan, as printed by plan, plans and show-plan."""
    # Here, not at the top: they read notebooks, which `runbook runs` never needs.
    from runbook.model.forcing import plan_forced
    from runbook.model.working_dir import plan_cwd

    return {
        "id": plan.id,
        "runbook": plan.runbook_path,
        "title": plan.title,
        "notebook": plan.notebook_path,
        "sha256": plan.sha256,
        "parameters": plan.parameters,
        "cwd": plan_cwd(plan),
        "planned_by": plan.planned_by,
        "planned_at": plan.planned_at.isoformat(),
        "state": plan.state.value,
        "review_required": plan.review_required,
        "forced": plan_forced(plan),
        "standing_approval": plan.standing_approval,
    }


def review_summary(review: Review) -> dict[str, object]:
    """The JSON form of a review."""
    return {
        "plan": review.plan_id,
        "verdict": review.verdict.value,
        "reviewer": review.reviewer,
        "comment": review.comment,
        "plan_sha256": review.plan_sha256,
        "reviewed_at": review.reviewed_at.isoformat(),
        "identity_kind": review.identity_kind.value,
        "signer_key": review.signer_key,
    }


def module_summary(module: ModuleStatus) -> dict[str, object]:
    """The JSON form of one importable module."""
    return {
        "path": module.path,
        "sha256": module.recorded,
        "current_sha256": module.current,
        "state": module.state,
    }


def run_summary(run: Run) -> dict[str, Any]:
    """The JSON form of a run."""
    return {
        "id": run.id,
        "plan": run.plan_id,
        "executor": run.executor,
        "mode": run.mode.value,
        "state": run.state.value,
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
        "duration": run.duration,
        "notebook": run.notebook_path,
        "resumed_from": run.resumed_from,
        "start_cell": run.start_cell,
        "message": run.message,
    }


def cell_event_summary(event: CellEvent) -> dict[str, Any]:
    """The JSON form of what happened to one cell of a run."""
    return {
        "cell": event.cell_index,
        "status": event.status.value,
        "duration": event.duration,
        "decision": event.decision.value if event.decision else None,
        "by": event.decided_by,
        "error": event.error,
    }


def run_log_summary(run: Run, events: list[CellEvent]) -> dict[str, Any]:
    """A run with its cells, as ``runbook log --json`` prints it."""
    return {**run_summary(run), "cells": [cell_event_summary(e) for e in events]}


def event_summary(event: AuditEvent) -> dict[str, Any]:
    """The JSON form of an audit event."""
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "kind": event.kind,
        "subject": event.subject,
        "payload": event.payload,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def verdict_summary(verdict: AuditVerdict) -> dict[str, Any]:
    """The JSON form of an audit check."""
    return {
        "ok": verdict.ok,
        "checked": verdict.checked,
        "first_bad_id": verdict.first_bad_id,
        "reason": verdict.findings[0] if verdict.findings else "",
        "findings": verdict.findings,
        "records": verdict.records,
        "anchors": verdict.anchors,
        "anchor": verdict.anchor.to_json() if verdict.anchor else None,
        "ref": verdict.ref,
        "notes": verdict.notes,
    }
