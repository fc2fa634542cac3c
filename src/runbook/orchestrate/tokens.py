"""API tokens: create one (its secret shown once), list, revoke, and authenticate a secret.

Creating and revoking are audited. A token authenticates as long as it is neither expired
nor revoked; every refusal is a :class:`CredentialsError` (HTTP 401). The secret is looked
up by its sha256 and compared again in constant time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy.orm import Session

from runbook.errors import ConfigError, CredentialsError, ParameterError
from runbook.model.api_token import (
    ApiToken,
    new_secret,
    new_token_id,
    secret_digest,
    secret_matches,
)
from runbook.model.audit import EventKind
from runbook.model.identity import check_identity
from runbook.model.retention import parse_ttl
from runbook.model.roles import Principal, PrincipalKind, Role
from runbook.store.api_tokens import (
    create_api_token,
    find_api_token,
    get_api_token,
    list_api_tokens,
    revoke_api_token,
)
from runbook.store.audit import append_event


@dataclass(frozen=True)
class CreatedToken:
    """A token just created, with its secret: the only time the secret is known."""

    token: ApiToken
    secret: str


def token_subject(token_id: str) -> str:
    """The audit subject of a token."""
    return f"token:{token_id}"


def parse_expiry(text: str, now: datetime) -> datetime:
    """``--expires``: a duration from now (``30d``, ``12h``) or an ISO date or timestamp."""
    try:
        return now + parse_ttl(text, "--expires")
    except ConfigError:
        pass  # not a duration: a date, then
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ParameterError(
            "--expires", f"{text!r} is neither a duration (30d, 12h) nor an ISO date"
        ) from None
    if len(text.strip()) == len("YYYY-MM-DD"):
        moment = datetime.combine(moment.date(), time(), UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment <= now:
        raise ParameterError("--expires", f"{text!r} is already past")
    return moment


def create_token(
    session: Session,
    *,
    user: str,
    role: Role,
    created_by: str,
    expires_at: datetime | None = None,
    tags: frozenset[str] | None = None,
) -> CreatedToken:
    """Create a token for ``user`` with ``role`` (narrowed to runbooks with one of ``tags``,
    when given); committed with its audit event."""
    user = check_identity(user, "--user")
    created_by = check_identity(created_by, "creator")
    now = datetime.now(UTC)
    secret = new_secret()
    token = ApiToken(
        id=new_token_id(),
        user=user,
        role=role,
        secret_sha256=secret_digest(secret),
        created_at=now,
        created_by=created_by,
        expires_at=expires_at,
        tags=tags,
    )
    create_api_token(session, token)
    append_event(
        session,
        kind=EventKind.TOKEN_CREATED,
        actor=created_by,
        subject=token_subject(token.id),
        payload={
            "user": user,
            "role": role.value,
            "expires_at": expires_at.isoformat() if expires_at else None,
            **({"tags": sorted(tags)} if tags is not None else {}),
        },
        at=now,
    )
    session.commit()
    return CreatedToken(token, secret)


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, newest first (their secrets are not stored, so never shown)."""
    return list_api_tokens(session)


def revoke_token(session: Session, token_id: str, *, by: str) -> ApiToken:
    """Revoke a token now; it stops authenticating at once. Audited (once: revoking a
    revoked token changes nothing)."""
    by = check_identity(by, "revoker")
    existing = get_api_token(session, token_id)
    if existing.revoked_at is not None:
        return existing
    now = datetime.now(UTC)
    token = revoke_api_token(session, token_id, by, now)
    append_event(
        session,
        kind=EventKind.TOKEN_REVOKED,
        actor=by,
        subject=token_subject(token.id),
        payload={"user": token.user},
        at=now,
    )
    session.commit()
    return token


def token_principal(session: Session, secret: str, now: datetime | None = None) -> Principal:
    """The principal a bearer secret stands for; CredentialsError when it stands for none."""
    token = find_api_token(session, secret_digest(secret))
    return principal_of(token, secret, now or datetime.now(UTC))


def principal_of(token: ApiToken | None, secret: str, now: datetime) -> Principal:
    """The principal of ``token`` (the record found for ``secret``, or None) at ``now``;
    CredentialsError when the secret does not match it, or it is expired or revoked."""
    if token is None or not secret_matches(token, secret):
        raise CredentialsError("the API token is not known")
    if not token.usable(now):
        raise CredentialsError(f"the API token {token.id} is {token.state(now)}")
    return Principal(token.user, token.role, PrincipalKind.TOKEN, token.tags)


def token_summary(token: ApiToken, now: datetime | None = None) -> dict[str, Any]:
    """The JSON form of a token: everything but its secret, which is not stored."""
    return {
        "id": token.id,
        "user": token.user,
        "role": token.role.value,
        "tags": sorted(token.tags) if token.tags is not None else None,
        "state": token.state(now or datetime.now(UTC)),
        "created_at": token.created_at.isoformat(),
        "created_by": token.created_by,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
        "revoked_by": token.revoked_by,
    }
