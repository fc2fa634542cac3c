"""Idempotent creation for the service: a retried request creates nothing twice.

A client sends ``Idempotency-Key: <key>`` with a creating request (a POST that makes a plan,
a review, a standing approval, a run…). The first request with that key, from that
principal, is carried out and its response (status and JSON body) kept; a retry with the
same key and the same request (method, path, query and body: :func:`fingerprint`) gets that
response again and creates nothing. The same key with a different request is refused
(:class:`IdempotencyConflictError`, HTTP 409), as is a retry while the first is still being
carried out. A request that fails keeps nothing, so it may be retried once fixed. Keys last
:data:`KEY_LIFETIME` (a day); ``runbook gc`` removes older ones (:func:`forget_old_keys`).

Keys belong to the principal as compared (:attr:`runbook.model.roles.Principal.key`): two
callers never see each other's responses, whatever key they pick.

For an edge, :func:`once` is the whole rule. In the API, a route takes the ``Once``
dependency of :mod:`runbook.api.idempotent` and hands its work to it::

    @router.post("/runs", status_code=201)
    def post_run(body: RunBody, once: Once, principal: Operator) -> JSONResponse:
        return once(lambda: run_summary(start(...)), status=201)

The dependency reads the header and the request; the route returns what ``once`` returns.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import IdempotencyConflictError, ParameterError
from runbook.store.idempotency import (
    complete_request,
    find_request,
    forget_request,
    forget_requests_before,
    reserve_request,
)

#: How long a key is remembered.
KEY_LIFETIME: Final = timedelta(hours=24)

#: The header a client sends its key in.
HEADER: Final = "Idempotency-Key"

# Printable ASCII without spaces at the ends, as the IETF draft's examples and Stripe's keys.
KEY_PATTERN: Final = r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$"
_KEY: Final = re.compile(KEY_PATTERN)


@dataclass(frozen=True)
class Outcome:
    """A creating request's response, and whether it is a replay of an earlier one."""

    status: int
    body: Any
    replayed: bool = False


def check_key(key: str) -> str:
    """``key`` when it is 1 to 255 printable ASCII characters; ParameterError otherwise."""
    if not _KEY.fullmatch(key):
        raise ParameterError(HEADER, "must be 1 to 255 printable ASCII characters")
    return key


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests the same request: their method, path, query and body."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def once(
    sessions: sessionmaker[Session],
    principal: str,
    key: str | None,
    request: str,
    work: Callable[[], Any],
    *,
    status: int = 201,
    now: datetime | None = None,
) -> Outcome:
    """Carry out ``work`` (the request fingerprinted ``request``) once per (principal, key).

    Without a key, ``work`` runs and nothing is kept. With one, a first request reserves the
    key, runs ``work`` and keeps its result; a later one replays it. A failing ``work``
    frees the key and raises.
    """
    if key is None:
        return Outcome(status, work())
    check_key(key)
    at = now or datetime.now(UTC)
    with sessions.begin() as session:
        kept = find_request(session, principal, key)
        if kept is not None and kept.created_at <= at - KEY_LIFETIME:
            forget_request(session, principal, key)
            kept = None
        if kept is not None:
            return _replay(key, request, kept.fingerprint, kept.status, kept.body)
        if not reserve_request(session, principal, key, request, at):
            raise IdempotencyConflictError(key, "a request with this key is being carried out")
    try:
        body = work()
    except BaseException:
        with sessions.begin() as session:
            forget_request(session, principal, key)
        raise
    with sessions.begin() as session:
        complete_request(session, principal, key, status, body)
    return Outcome(status, body)


def _replay(key: str, request: str, kept: str, status: int, body: Any) -> Outcome:
    if kept != request:
        raise IdempotencyConflictError(
            key, "already used for a different request: use a new key for a new request"
        )
    if status == 0:
        raise IdempotencyConflictError(key, "a request with this key is being carried out")
    return Outcome(status, body, replayed=True)


def forget_old_keys(session: Session, now: datetime | None = None) -> int:
    """Remove keys older than :data:`KEY_LIFETIME`; how many (``runbook gc`` calls it)."""
    return forget_requests_before(session, (now or datetime.now(UTC)) - KEY_LIFETIME)
