"""The dependency that reads a request's credentials and asks the core who they prove.

It takes any HTTP connection, so WebSocket routes (the sessions' proxy) declare their
permission the same way as the others.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from runbook.model.roles import Principal
from runbook.orchestrate.auth_throttle import authenticate_throttled
from runbook.orchestrate.authentication import Authenticator, Credentials


def bearer_of(request: HTTPConnection) -> str | None:
    """The token of an ``Authorization: Bearer`` header ("" for another scheme), or None."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def proxy_user_of(request: HTTPConnection, header: str) -> str | None:
    """The user the proxy header names, read as UTF-8 (HTTP hands headers over as latin-1)."""
    value = request.headers.get(header) if header else None
    if value is None:
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value  # not UTF-8: kept as is, and refused if it holds a control character


def credentials_of(request: HTTPConnection, authenticator: Authenticator) -> Credentials:
    """What ``request`` carries: its bearer, the proxy header (if configured), its peer."""
    return Credentials(
        bearer=bearer_of(request),
        proxy_user=proxy_user_of(request, authenticator.settings.proxy_header),
        peer=request.client.host if request.client else None,
    )


class DeclaredBearer(HTTPBearer):
    """The bearer scheme, declared so that the OpenAPI document shows it on every operation
    that needs a caller; reading the header stays :func:`bearer_of`'s (no error of its
    own), and it takes any connection, WebSockets too."""

    async def __call__(self, request: HTTPConnection) -> None:
        """Nothing: the declaration is what counts."""


BEARER = DeclaredBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token (`runbook token create`) or an OpenID Connect access token.",
)


async def authenticate(
    request: HTTPConnection, _declared: Annotated[None, Depends(BEARER)]
) -> Principal:
    """The principal of ``request`` (CredentialsError, a 401, when there is none)."""
    authenticator: Authenticator = request.app.state.authenticator
    # Tokens are looked up in the store and issuers' keys fetched: off the event loop.
    principal: Principal = await run_in_threadpool(
        authenticate_throttled,
        authenticator,
        request.app.state.auth_throttle,
        credentials_of(request, authenticator),
    )
    request.state.user = principal.user  # for the access log line
    return principal
