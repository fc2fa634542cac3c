"""Scheduled and sensor-fired workflows run under a standing approval of the workflow file.

A reviewer approves a workflow for its triggers (``schedule:NAME``, ``sensor:NAME``): the
workflow file at its sha256, every task's runbook at its content hash and the repository code
the cells can import, with a bound on each workflow parameter. When a trigger fires a
workflow with a task that needs review, such an approval must hold for it (file, runbooks
and code unchanged, values inside the bounds, not expired or revoked), or the firing is
refused before anything starts; the tasks' plans are then approved by it, each recording
its id. A workflow started by a person (``runbook workflow run``) is judged task by task
against runbook approvals for ``workflow:NAME``, as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from runbook.errors import StandingRefusedError, UsageError
from runbook.model.identity import check_identity
from runbook.model.modules import Manifest, file_sha256, manifest_changes
from runbook.model.notebook import load_runbook
from runbook.model.repository import Repository
from runbook.model.standing import TRIGGER_KINDS, Bound, StandingApproval, check_caller
from runbook.model.workflows.workflow import WorkflowSpec
from runbook.model.workflows.workflow_run import TriggerKind, WorkflowRun
from runbook.orchestrate.plan_code import local_modules
from runbook.orchestrate.ssh_signatures import SigningKey
from runbook.orchestrate.standing_approvals import (
    MAX_LIFETIME,
    grant_moment,
    record_standing,
    runbook_sha256,
)
from runbook.orchestrate.standing_signatures import SignedGrant
from runbook.orchestrate.workflows.workflow_files import find_workflow, settings_for, task_path
from runbook.store.standing import list_standing


def workflow_manifest(repository: Repository, spec: WorkflowSpec, source: str) -> Manifest:
    """What an approval of the workflow binds besides its file: the repository's modules
    and each task's runbook (repository-relative path → content hash)."""
    manifest = dict(local_modules(repository))
    for task in spec.tasks.values():
        path = task_path(repository, source, task.filename)
        manifest[repository.relative(path)] = runbook_sha256(
            load_runbook(path, repository.relative(path))
        )
    return manifest


def approve_workflow_standing(
    session: Session,
    repository: Repository,
    workflow_name: str,
    *,
    reviewer: str,
    callers: Sequence[str],
    bounds: Mapping[str, Bound],
    lifetime: timedelta,
    confirm_unattended: bool = False,
    comment: str | None = None,
    now: datetime | None = None,
    key: SigningKey | None = None,
    identity: str = "claimed",
    signed: SignedGrant | None = None,
    draft: bool = False,
) -> StandingApproval:
    """Approve workflow ``workflow_name`` as it is now for its triggers, within bounds
    (signed and drafted as :func:`runbook.orchestrate.standing_approvals.approve_standing`).

    Callers are ``schedule:NAME`` or ``sensor:NAME`` of this workflow; every workflow
    parameter needs a bound, and only those (UsageError naming the one wrong).
    """
    check_identity(reviewer, "reviewer")
    workflow = find_workflow(repository, settings_for(repository), workflow_name)
    spec = workflow.spec
    checked = tuple(dict.fromkeys(check_caller(c) for c in callers))
    wrong = [c for c in checked if c not in _trigger_callers(spec.name)]
    if not checked or wrong:
        shown = wrong[0] if wrong else "none"
        raise UsageError(
            f"--for {shown}: a workflow is approved for its triggers: "
            f"{' or '.join(_trigger_callers(spec.name))}"
        )
    missing = sorted(set(spec.parameters) - set(bounds))
    if missing:
        raise UsageError(f"workflow {spec.name}: parameter {missing[0]} needs a --bound")
    unknown = sorted(set(bounds) - set(spec.parameters))
    if unknown:
        raise UsageError(f"--bound {unknown[0]}: workflow {spec.name} has no such parameter")
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise UsageError(f"--expires: a standing approval lasts up to {MAX_LIFETIME.days} days")
    approval_id, at = grant_moment(signed, now)
    approval = StandingApproval(
        id=approval_id,
        runbook_path=workflow.source,
        runbook_sha256=file_sha256(repository.resolve(workflow.source)),
        bounds=dict(bounds),
        callers=checked,
        approved_by=reviewer,
        approved_at=at,
        expires_at=at + lifetime,
        confirm_unattended=confirm_unattended,
        comment=comment or None,
        identity_kind=identity,
        modules=workflow_manifest(repository, spec, workflow.source),
    )
    if draft:
        return approval
    return record_standing(
        session, repository, approval, at, key, signed.signature if signed else None
    )


def _trigger_callers(name: str) -> tuple[str, ...]:
    return tuple(f"{kind}:{name}" for kind in TRIGGER_KINDS)


def trigger_caller(run: WorkflowRun) -> str | None:
    """``schedule:NAME`` or ``sensor:NAME`` for a run a trigger fired; None for a person's."""
    if run.trigger is TriggerKind.MANUAL:
        return None
    return f"{run.trigger.value}:{run.workflow}"


def approving_workflow(
    session: Session, repository: Repository, run: WorkflowRun, now: datetime | None = None
) -> StandingApproval:
    """The standing approval of the workflow file that lets this fired run start, or
    StandingRefusedError saying why none does (for the closest one)."""
    caller = trigger_caller(run)
    assert caller is not None  # noqa: S101 - only fired runs are judged here
    at = now or datetime.now(UTC)
    sha = file_sha256(repository.resolve(run.source))
    values = {name: run.parameters.get(name) for name in run.spec.parameters}
    reasons = []
    for approval in list_standing(session, runbook_path=run.source):
        reason = approval.refusal(caller, sha, values, at)
        if reason is None:
            current = workflow_manifest(repository, run.spec, run.source)
            changed = manifest_changes(approval.modules, current)
            if not changed:
                return approval
            reason = f"standing approval {approval.id}: {changed[0]} since it was approved"
        reasons.append((caller in approval.callers, reason))
    if not reasons:
        raise StandingRefusedError(run.source, caller, "no standing approval of this workflow")
    reasons.sort(key=lambda r: not r[0])
    raise StandingRefusedError(run.source, caller, reasons[0][1])
