"""The dependency that reads a request's credentials and asks the core who they prove."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from runbook.model.roles import Principal
from runbook.orchestrate.authentication import Credentials
from runbook.orchestrate.authentication import authenticate as authenticate_in_core


def bearer_of(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if the request has one."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def authenticate(request: Request) -> Principal:
    """The principal of ``request`` (CredentialsError, a 401, when there is none)."""
    credentials = Credentials(bearer=bearer_of(request))
    # The store is synchronous: look the token up off the event loop.
    return await run_in_threadpool(authenticate_in_core, request.app.state.engine, credentials)
