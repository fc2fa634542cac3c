"""API tokens as a service checks them: each secret looked up in the store at most once
every :data:`TOKEN_CACHE_SECONDS`.

A service answers hundreds of requests a second with a handful of tokens; looking each
one up (a transaction, the ORM, the hash) was a third of a listing's time. What is kept is
the token record (its user, role, expiry and revocation) under the secret's sha256, never
the secret. Each use still checks the secret against the record in constant time and the
expiry against the clock, so an expired token stops at once; a revocation (``runbook token
revoke``, from any process) is seen at the next look-up, at most
:data:`TOKEN_CACHE_SECONDS` later. Refusals are not kept: an unknown secret is looked up
every time (and the failed-authentication limit counts them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import Engine

from runbook.model.api_token import ApiToken, secret_digest
from runbook.model.roles import Principal
from runbook.orchestrate.tokens import principal_of
from runbook.store.api_tokens import find_api_token
from runbook.store.db import read_only, session_scope

#: How long a token record is trusted without reading it again: the bound on how late a
#: revocation takes effect on a running service.
TOKEN_CACHE_SECONDS: Final = 2.0
#: Records kept at most (then all are dropped and read again): a bound on memory.
_MAX_KEPT: Final = 4096


@dataclass(frozen=True)
class _Kept:
    token: ApiToken
    until: float


class TokenCache:
    """The token records one service read recently, by their secret's sha256."""

    def __init__(
        self,
        engine: Engine,
        seconds: float = TOKEN_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = read_only(engine)
        self._seconds = seconds
        self._clock = clock
        self._wall = wall
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    def principal(self, secret: str) -> Principal:
        """The principal ``secret`` stands for; CredentialsError when it stands for none."""
        digest = secret_digest(secret)
        now = self._clock()
        kept = self._kept.get(digest)
        if kept is None or now >= kept.until:
            kept = self._look_up(digest, now)
        token = kept.token if kept is not None else None
        return principal_of(token, secret, self._wall())

    def _look_up(self, digest: str, now: float) -> _Kept | None:
        with session_scope(self._engine) as session:
            token = find_api_token(session, digest)
        if token is None or token.revoked_at is not None:
            with self._lock:
                self._kept.pop(digest, None)
            return None if token is None else _Kept(token, now)
        kept = _Kept(token, now + self._seconds)
        with self._lock:
            if len(self._kept) >= _MAX_KEPT:
                self._kept.clear()
            self._kept[digest] = kept
        return kept
