"""The service's token cache: a revocation from another process takes effect within
TOKEN_CACHE_SECONDS, an expiry at once, and unknown secrets are never kept. The cache's
clock is the test's own, moved by hand: nothing waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from runbook.errors import CredentialsError
from runbook.model.roles import PrincipalKind, Role
from runbook.orchestrate.token_cache import TOKEN_CACHE_SECONDS, TokenCache
from runbook.orchestrate.tokens import create_token, revoke_token


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def cache_on(session: Session, clock: Clock) -> TokenCache:
    engine = session.get_bind().engine
    return TokenCache(engine, clock=clock)


def test_a_revocation_takes_effect_within_the_bound(session: Session) -> None:
    clock = Clock()
    cache = cache_on(session, clock)
    created = create_token(session, user="alice", role=Role.OPERATOR, created_by="root")
    principal = cache.principal(created.secret)
    assert (principal.user, principal.role, principal.kind) == (
        "alice",
        Role.OPERATOR,
        PrincipalKind.TOKEN,
    )
    # Revoked by another process (as `runbook token revoke` does): this cache does not
    # know yet, and may go on trusting its record for at most the bound.
    revoke_token(session, created.token.id, by="root")
    clock.now += TOKEN_CACHE_SECONDS / 2
    assert cache.principal(created.secret).user == "alice"
    clock.now += TOKEN_CACHE_SECONDS / 2
    with pytest.raises(CredentialsError, match="is revoked"):
        cache.principal(created.secret)
    # And it stays refused: a revoked record is never trusted again.
    with pytest.raises(CredentialsError, match="is revoked"):
        cache.principal(created.secret)


def test_an_expiry_takes_effect_at_once_and_unknown_secrets_are_read_each_time(
    session: Session,
) -> None:
    clock = Clock()
    wall = [datetime.now(UTC)]
    cache = TokenCache(session.get_bind().engine, clock=clock, wall=lambda: wall[0])
    expires = wall[0] + timedelta(hours=1)
    created = create_token(
        session, user="bob", role=Role.VIEWER, created_by="root", expires_at=expires
    )
    assert cache.principal(created.secret).user == "bob"
    wall[0] = expires  # its record is still kept, and says when it ends
    with pytest.raises(CredentialsError, match="is expired"):
        cache.principal(created.secret)
    stranger = "rbk_" + "x" * 43
    with pytest.raises(CredentialsError, match="not known"):
        cache.principal(stranger)
    # A token created since is found at once: refusals were not kept.
    later = create_token(session, user="carol", role=Role.VIEWER, created_by="root")
    assert cache.principal(later.secret).user == "carol"


def test_a_wrong_secret_with_a_kept_hash_is_refused(session: Session) -> None:
    clock = Clock()
    cache = cache_on(session, clock)
    created = create_token(session, user="dave", role=Role.ADMIN, created_by="root")
    assert cache.principal(created.secret).user == "dave"
    with pytest.raises(CredentialsError):
        cache.principal(created.secret + "x")
