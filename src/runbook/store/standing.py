"""Record functions for standing approvals (:class:`runbook.model.standing.StandingApproval`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from runbook.errors import AlreadyExistsError, UnknownStandingApprovalError
from runbook.model.standing import Bound, StandingApproval
from runbook.store.tables import StandingApprovalRow, require_aware


def create_standing(session: Session, approval: StandingApproval) -> None:
    """Record a standing approval (flushed: the caller commits it with its audit event)."""
    if session.get(StandingApprovalRow, approval.id) is not None:
        raise AlreadyExistsError(f"standing approval {approval.id}")
    session.add(
        StandingApprovalRow(
            id=approval.id,
            runbook_path=approval.runbook_path,
            runbook_sha256=approval.runbook_sha256,
            bounds={name: bound.to_json() for name, bound in approval.bounds.items()},
            callers=list(approval.callers),
            approved_by=approval.approved_by,
            identity_kind=approval.identity_kind,
            approved_at=require_aware(approval.approved_at, f"standing {approval.id}"),
            expires_at=require_aware(approval.expires_at, f"standing {approval.id}"),
            confirm_unattended=approval.confirm_unattended,
            comment=approval.comment,
            modules=dict(approval.modules),
        )
    )
    session.flush()


def get_standing(session: Session, approval_id: str) -> StandingApproval:
    """The standing approval with this id; UnknownStandingApprovalError when there is none."""
    row = session.get(StandingApprovalRow, approval_id)
    if row is None:
        raise UnknownStandingApprovalError(approval_id)
    return _to_standing(row)


def list_standing(session: Session, runbook_path: str | None = None) -> list[StandingApproval]:
    """Standing approvals, newest first, optionally of one runbook (revoked ones included)."""
    query = select(StandingApprovalRow).order_by(
        StandingApprovalRow.approved_at.desc(), StandingApprovalRow.id
    )
    if runbook_path is not None:
        query = query.where(StandingApprovalRow.runbook_path == runbook_path)
    return [_to_standing(row) for row in session.scalars(query)]


def revoke_standing(session: Session, approval_id: str, by: str, at: datetime) -> StandingApproval:
    """Stamp a standing approval revoked (once: a revoked one stays as it was revoked)."""
    row = session.get(StandingApprovalRow, approval_id)
    if row is None:
        raise UnknownStandingApprovalError(approval_id)
    if row.revoked_at is None:
        row.revoked_at = require_aware(at, f"standing {approval_id}")
        row.revoked_by = by
        session.flush()
    return _to_standing(row)


def _to_standing(row: StandingApprovalRow) -> StandingApproval:
    return StandingApproval(
        id=row.id,
        runbook_path=row.runbook_path,
        runbook_sha256=row.runbook_sha256,
        bounds={name: Bound.from_json(data) for name, data in row.bounds.items()},
        callers=tuple(row.callers),
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        expires_at=row.expires_at,
        confirm_unattended=row.confirm_unattended,
        comment=row.comment,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        identity_kind=row.identity_kind,
        modules=dict(row.modules),
    )
