"""Standing approvals: granting, revoking, and approving an unattended caller's plan by one.

A standing approval binds a runbook's content (its sha256, as :func:`runbook_sha256`
computes it) and the repository code its cells can import (as a plan does): a change to
either leaves the approval standing but no longer matching, so unattended callers are
refused until a reviewer approves the new content.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from runbook.errors import (
    ReviewRequiredError,
    SignatureError,
    StandingRefusedError,
    UnknownStandingApprovalError,
    UsageError,
)
from runbook.model.audit import EventKind, standing_subject
from runbook.model.identity import check_identity
from runbook.model.modules import Manifest, manifest_changes
from runbook.model.notebook import Runbook, load_runbook
from runbook.model.plan import Plan, PlanState, canonical_json, content_sha256
from runbook.model.playbooks.playbook_plan import playbook_plan_of
from runbook.model.repository import Repository
from runbook.model.standing import TRIGGER_KINDS, Bound, StandingApproval, check_caller
from runbook.orchestrate.plan_code import local_modules
from runbook.orchestrate.ssh_signatures import SigningKey
from runbook.orchestrate.standing_signatures import SignedGrant, signed_grant
from runbook.store.audit import append_event
from runbook.store.plans import get_plan
from runbook.store.standing import create_standing, get_standing, list_standing, revoke_standing

#: The longest a standing approval may last: unattended use is reviewed again at least yearly.
MAX_LIFETIME = timedelta(days=366)


def runbook_sha256(runbook: Runbook) -> str:
    """The hash a standing approval binds: the runbook's content as it is read to plan."""
    return content_sha256(canonical_json(runbook.notebook))


def approve_standing(
    session: Session,
    repository: Repository,
    runbook_name: str,
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
    """Grant a standing approval of the runbook ``runbook_name`` as it is now (signed with
    ``key``, or by ``signed``, signed elsewhere: see :func:`record_standing`); with
    ``draft``, only build it (unrecorded): what a client of the service signs.

    Every parameter the runbook declares needs a bound (``*`` for any value), and only
    those: UsageError names the one missing or unknown.
    """
    check_identity(reviewer, "reviewer")
    path = repository.find_runbook(runbook_name)
    where = repository.relative(path)
    runbook = load_runbook(path, where)
    missing = sorted(set(runbook.parameters) - set(bounds))
    if missing:
        raise UsageError(
            f"{where}: parameter {missing[0]} needs a --bound ({missing[0]}=* for any)"
        )
    unknown = sorted(set(bounds) - set(runbook.parameters))
    if unknown:
        raise UsageError(f"{where}: --bound {unknown[0]}: the runbook has no such parameter")
    if not callers:
        raise UsageError("a standing approval names its callers: --for workflow:NAME …")
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise UsageError(f"--expires: a standing approval lasts up to {MAX_LIFETIME.days} days")
    approval_id, at = grant_moment(signed, now)
    approval = StandingApproval(
        id=approval_id,
        runbook_path=where,
        runbook_sha256=runbook_sha256(runbook),
        bounds=dict(bounds),
        callers=tuple(dict.fromkeys(check_caller(c) for c in callers)),
        approved_by=reviewer,
        approved_at=at,
        expires_at=at + lifetime,
        confirm_unattended=confirm_unattended,
        comment=comment or None,
        identity_kind=identity,
        modules=local_modules(repository),
    )
    if draft:
        return approval
    return record_standing(
        session, repository, approval, at, key, signed.signature if signed else None
    )


def grant_moment(signed: SignedGrant | None, now: datetime | None) -> tuple[str, datetime]:
    """A new standing approval's id and moment: fresh ones, or a signed draft's (checked)."""
    at = now or datetime.now(UTC)
    if signed is None:
        return f"standing-{secrets.token_hex(4)}", at
    signed.check(at)
    return signed.id, signed.approved_at


def record_standing(
    session: Session,
    repository: Repository,
    approval: StandingApproval,
    at: datetime,
    key: SigningKey | None = None,
    signature: str | None = None,
) -> StandingApproval:
    """Keep a new standing approval and its ``standing.approved`` event, committed together;
    signed with ``key`` or by ``signature`` (required where reviews must be signed: see
    :mod:`runbook.orchestrate.standing_signatures`), its approver is the key's principal."""
    if signature is not None and _recorded(session, approval.id):
        raise SignatureError(f"standing approval {approval.id} is already recorded (a replay)")
    approval, signed = signed_grant(repository, approval, key, signature)
    create_standing(session, approval)
    append_event(
        session,
        kind=EventKind.STANDING_APPROVED,
        actor=approval.approved_by,
        subject=standing_subject(approval.id),
        payload={**approval.event_payload(), **signed},
        at=at,
    )
    session.commit()
    return approval


def _recorded(session: Session, approval_id: str) -> bool:
    try:
        get_standing(session, approval_id)
    except UnknownStandingApprovalError:
        return False
    return True


def revoke(session: Session, approval_id: str, *, by: str) -> StandingApproval:
    """Revoke a standing approval: plans it approved that have not run may no longer run."""
    check_identity(by, "reviewer")
    at = datetime.now(UTC)
    approval = revoke_standing(session, approval_id, by, at)
    append_event(
        session,
        kind=EventKind.STANDING_REVOKED,
        actor=by,
        subject=standing_subject(approval.id),
        payload={},
        at=at,
    )
    session.commit()
    return approval


def approving_standing(
    session: Session,
    repository: Repository,
    runbook: Runbook,
    caller: str,
    parameters: Mapping[str, object],
    now: datetime | None = None,
    current_modules: Manifest | None = None,
) -> StandingApproval:
    """The standing approval that approves ``caller``'s plan of ``runbook`` with these
    values; StandingRefusedError saying why none does (for the closest one: this runbook,
    this caller). ``current_modules``: the repository's module manifest, when the caller
    has it already (it is walked otherwise, once a candidate fits)."""
    where = repository.relative(runbook.path)
    at = now or datetime.now(UTC)
    sha = runbook_sha256(runbook)
    if caller.partition(":")[0] in TRIGGER_KINDS:
        return _trigger_approval(session, where, sha, caller, at)
    reasons = []
    for approval in list_standing(session, runbook_path=where):
        reason = approval.refusal(caller, sha, parameters, at)
        if reason is None:
            if current_modules is None:
                current_modules = local_modules(repository)
            changed = manifest_changes(approval.modules, current_modules)
            if not changed:
                return approval
            reason = f"standing approval {approval.id}: repository code changed ({changed[0]})"
        reasons.append((caller in approval.callers, reason))
    if not reasons:
        raise StandingRefusedError(where, caller, "no standing approval of this runbook")
    reasons.sort(key=lambda r: not r[0])  # this caller's first
    raise StandingRefusedError(where, caller, reasons[0][1])


#: How a runbook step's plan names the reviewed playbook plan it runs under, in place of a
#: standing approval's id (see :mod:`runbook.orchestrate.playbooks.playbook_plans`).
COVER_PREFIX = "plan:"


def covering_plan(session: Session, repository: Repository, runbook: Runbook, cover: str) -> str:
    """The approval a runbook step's plan runs under inside a reviewed playbook plan
    ``cover``: ``plan:<cover>``; ReviewRequiredError when the runbook is not what that
    plan bound (changed since, or not one of its steps), or the plan no longer holds."""
    where = repository.relative(runbook.path)
    frozen = playbook_plan_of(get_plan(session, cover))
    bound = frozen.runbooks.get(where) if frozen is not None else None
    if bound != runbook_sha256(runbook):
        raise ReviewRequiredError(
            cover, f"runbook {where} is not what the playbook plan bound (changed since?)"
        )
    approval = COVER_PREFIX + cover
    lapsed = standing_still_holds(session, approval)
    if lapsed is not None:
        raise ReviewRequiredError(cover, lapsed)
    return approval


def _trigger_approval(
    session: Session, where: str, sha: str, caller: str, at: datetime
) -> StandingApproval:
    """The approval of the workflow file a trigger fired that binds this runbook as it is;
    the workflow's values were checked against its bounds when it fired
    (:mod:`runbook.orchestrate.workflows.workflow_standing`)."""
    for approval in list_standing(session):
        holds = approval.revoked_at is None and at < approval.expires_at
        if holds and caller in approval.callers and approval.modules.get(where) == sha:
            return approval
    raise StandingRefusedError(
        where, caller, "no standing approval of its workflow binds this runbook as it is"
    )


def confirms_unattended(session: Session, plan: Plan) -> bool:
    """Whether the plan's confirm cells may run with nobody there: only under a standing
    approval that says so."""
    if plan.standing_approval is None or plan.standing_approval.startswith(COVER_PREFIX):
        return False
    return get_standing(session, plan.standing_approval).confirm_unattended


def standing_still_holds(session: Session, approval_id: str) -> str | None:
    """Why a plan's standing approval no longer approves it (revoked, expired), or None.

    For a runbook step's plan covered by a playbook plan (``plan:<id>``): why that plan no
    longer approves it (rejected, its approvals withdrawn).
    """
    if approval_id.startswith(COVER_PREFIX):
        cover = get_plan(session, approval_id.removeprefix(COVER_PREFIX))
        if cover.review_required and cover.state is not PlanState.APPROVED:
            return f"its playbook plan {cover.id} is {cover.state.value}"
        return None
    approval = get_standing(session, approval_id)
    if approval.revoked_at is not None:
        return f"its standing approval {approval.id} was revoked by {approval.revoked_by}"
    if datetime.now(UTC) >= approval.expires_at:
        return f"its standing approval {approval.id} expired at {approval.expires_at.isoformat()}"
    return None
