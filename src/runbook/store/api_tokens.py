"""Record functions for API tokens (:class:`runbook.model.api_token.ApiToken`)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from runbook.errors import UnknownTokenError
from runbook.model.api_token import ApiToken
from runbook.model.roles import Role
from runbook.store.tables import require_aware
from runbook.store.token_rows import ApiTokenRow


def create_api_token(session: Session, token: ApiToken) -> None:
    """Record a token (flushed: the caller commits it with its audit event)."""
    session.add(
        ApiTokenRow(
            id=token.id,
            user=token.user,
            role=token.role.value,
            secret_sha256=token.secret_sha256,
            created_at=require_aware(token.created_at, f"token {token.id}"),
            created_by=token.created_by,
            expires_at=(
                require_aware(token.expires_at, f"token {token.id}") if token.expires_at else None
            ),
            tags=json.dumps(sorted(token.tags)) if token.tags is not None else None,
        )
    )
    session.flush()


def find_api_token(session: Session, secret_sha256: str) -> ApiToken | None:
    """The token whose secret has this sha256, if any (revoked and expired ones included)."""
    row = session.scalars(
        select(ApiTokenRow).where(ApiTokenRow.secret_sha256 == secret_sha256)
    ).first()
    return _to_token(row) if row is not None else None


def get_api_token(session: Session, token_id: str) -> ApiToken:
    """The token with this id; UnknownTokenError when there is none."""
    row = session.get(ApiTokenRow, token_id)
    if row is None:
        raise UnknownTokenError(token_id)
    return _to_token(row)


def list_api_tokens(session: Session) -> list[ApiToken]:
    """Every token, newest first."""
    query = select(ApiTokenRow).order_by(ApiTokenRow.created_at.desc(), ApiTokenRow.id)
    return [_to_token(row) for row in session.scalars(query)]


def revoke_api_token(session: Session, token_id: str, by: str, at: datetime) -> ApiToken:
    """Stamp a token revoked (once: a revoked token stays as it was revoked)."""
    row = session.get(ApiTokenRow, token_id)
    if row is None:
        raise UnknownTokenError(token_id)
    if row.revoked_at is None:
        row.revoked_at = require_aware(at, f"token {token_id}")
        row.revoked_by = by
        session.flush()
    return _to_token(row)


def _to_token(row: ApiTokenRow) -> ApiToken:
    return ApiToken(
        id=row.id,
        user=row.user,
        role=Role(row.role),
        secret_sha256=row.secret_sha256,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        tags=frozenset(json.loads(row.tags)) if row.tags is not None else None,
    )
