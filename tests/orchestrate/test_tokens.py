"""API tokens in the core: expiry parsing, hashed lookup, expiry and revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from runbook.errors import CredentialsError, ParameterError
from runbook.model.api_token import secret_digest
from runbook.model.roles import Role
from runbook.orchestrate.tokens import (
    create_token,
    parse_expiry,
    revoke_token,
    token_principal,
    token_summary,
)
from runbook.store.api_tokens import find_api_token
from runbook.store.audit import list_events

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_expiry_is_a_duration_or_a_date() -> None:
    assert parse_expiry("30d", NOW) == NOW + timedelta(days=30)
    assert parse_expiry("12h", NOW) == NOW + timedelta(hours=12)
    assert parse_expiry("2027-01-31", NOW) == datetime(2027, 1, 31, tzinfo=UTC)
    assert parse_expiry("2027-01-31T08:00:00+01:00", NOW) == datetime(2027, 1, 31, 7, tzinfo=UTC)
    for bad in ("soon", "2026-12-01", "-3d", ""):
        with pytest.raises(ParameterError, match="--expires"):
            parse_expiry(bad, NOW)


def test_a_secret_is_found_by_its_hash_only(session: Session) -> None:
    created = create_token(session, user="alice", role=Role.REVIEWER, created_by="root")
    stored = find_api_token(session, secret_digest(created.secret))
    assert stored is not None and stored.id == created.token.id
    assert created.secret not in str(token_summary(stored))
    assert token_principal(session, created.secret).role is Role.REVIEWER
    with pytest.raises(CredentialsError, match="not known"):
        token_principal(session, created.secret + "x")


def test_expired_and_revoked_tokens_prove_nobody(session: Session) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    expiring = create_token(session, user="b", role=Role.VIEWER, created_by="root", expires_at=soon)
    assert token_principal(session, expiring.secret).user == "b"
    with pytest.raises(CredentialsError, match="is expired"):
        token_principal(session, expiring.secret, now=soon)
    revoked = create_token(session, user="c", role=Role.ADMIN, created_by="root")
    first = revoke_token(session, revoked.token.id, by="root")
    again = revoke_token(session, revoked.token.id, by="mallory")
    assert again.revoked_by == "root" and again.revoked_at == first.revoked_at
    kinds = [e.kind for e in list_events(session, subject=f"token:{revoked.token.id}")]
    assert kinds == ["token.created", "token.revoked"]
    with pytest.raises(CredentialsError, match="is revoked"):
        token_principal(session, revoked.secret)
