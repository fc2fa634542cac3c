"""Who is calling the service: the one order in which credentials are tried.

1. ``Authorization: Bearer …``: an API token (``rbk_…``), else an OpenID Connect token when
   an issuer is configured. A bearer that proves nobody is refused; it never falls through
   to a weaker kind.
2. The trusted proxy's user header, only when the peer is one of ``trusted_proxies``.
3. Anonymous, when ``[service] anonymous`` is on.

Anything else is a :class:`CredentialsError` (HTTP 401).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from runbook.errors import CredentialsError
from runbook.model.api_token import TOKEN_PREFIX
from runbook.model.roles import Principal
from runbook.orchestrate.tokens import token_principal
from runbook.store.db import session_scope


@dataclass(frozen=True)
class Credentials:
    """What a request carries that may say who sent it, as the edge read it."""

    bearer: str | None = None


def authenticate(engine: Engine, credentials: Credentials) -> Principal:
    """The principal ``credentials`` prove; CredentialsError when they prove none."""
    if credentials.bearer is not None:
        if credentials.bearer.startswith(TOKEN_PREFIX):
            with session_scope(engine) as session:
                return token_principal(session, credentials.bearer)
        raise CredentialsError("the bearer token is neither an API token nor a known issuer's")
    raise CredentialsError("no credentials: send Authorization: Bearer <token>")
