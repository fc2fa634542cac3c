"""Granting a standing approval as the edges ask for one, and its JSON form.

``runbook approve-standing`` and ``POST /standing`` both call :func:`grant_standing`: the
bounds as ``NAME=BOUND`` text, the lifetime as a TTL (``30d``), a runbook's or (with
``workflow``) a workflow's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from runbook.errors import ConfigError, UsageError
from runbook.model.repository import Repository
from runbook.model.retention import parse_ttl
from runbook.model.review import IdentityKind
from runbook.model.standing import StandingApproval, parse_bound
from runbook.orchestrate.ssh_signatures import NAMESPACE, SigningKey
from runbook.orchestrate.standing_approvals import approve_standing
from runbook.orchestrate.standing_signatures import SignedGrant, standing_message


def grant_standing(
    session: Session,
    repository: Repository,
    name: str,
    *,
    workflow: bool,
    reviewer: str,
    callers: Sequence[str],
    bounds: Iterable[str],
    expires: str,
    confirm_unattended: bool = False,
    comment: str | None = None,
    key: SigningKey | None = None,
    identity: IdentityKind = IdentityKind.CLAIMED,
    signed: SignedGrant | None = None,
    draft: bool = False,
) -> StandingApproval:
    """Approve runbook (or workflow) ``name`` as it is now for ``callers``, within bounds,
    signed with ``key`` (or by ``signed``, a drafted approval signed elsewhere) where given
    (required where reviews must be signed); ``identity`` says how ``reviewer`` was
    established. With ``draft``, nothing is recorded: the approval is what to sign."""
    parsed = dict(parse_bound(b) for b in bounds)
    try:
        lifetime = parse_ttl(expires, "--expires")
    except ConfigError as error:
        raise UsageError(str(error)) from None
    approve = approve_standing
    if workflow:
        from runbook.orchestrate.workflows.workflow_standing import approve_workflow_standing

        approve = approve_workflow_standing  # type: ignore[assignment]  # same keywords
    return approve(
        session,
        repository,
        name,
        reviewer=reviewer,
        callers=callers,
        bounds=parsed,
        lifetime=lifetime,
        confirm_unattended=confirm_unattended,
        comment=comment,
        key=key,
        identity=identity.value,
        signed=signed,
        draft=draft,
    )


def draft_summary(approval: StandingApproval) -> dict[str, Any]:
    """What a client signs to grant a drafted approval, and sends back with its signature:
    ``ssh-keygen -Y sign -n NAMESPACE`` over ``message``."""
    return {
        "id": approval.id,
        "approved_at": approval.approved_at.isoformat(),
        "message": standing_message(approval),
        "namespace": NAMESPACE,
    }


def standing_summary(approval: StandingApproval) -> dict[str, Any]:
    """The JSON form of a standing approval."""
    return {
        "id": approval.id,
        "runbook": approval.runbook_path,
        "sha256": approval.runbook_sha256,
        "callers": list(approval.callers),
        "bounds": {name: bound.describe() for name, bound in approval.bounds.items()},
        "approved_by": approval.approved_by,
        "identity_kind": approval.identity_kind,
        "approved_at": approval.approved_at.isoformat(),
        "expires_at": approval.expires_at.isoformat(),
        "confirm_unattended": approval.confirm_unattended,
        "comment": approval.comment,
        "revoked_at": approval.revoked_at.isoformat() if approval.revoked_at else None,
        "revoked_by": approval.revoked_by,
    }
