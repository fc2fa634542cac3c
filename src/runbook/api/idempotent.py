"""The ``Idempotency-Key`` header of creating routes: the edge of
:mod:`runbook.orchestrate.idempotency`, which holds the rule.

A creating route takes ``once: Once`` and returns ``once(work, status=201)``; ``work``
returns the JSON body. With the header, a retried request gets the first response again
(``Idempotent-Replayed: true``) and ``work`` does not run; without it, ``work`` runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from runbook.api.principals import authenticate
from runbook.model.roles import Principal
from runbook.orchestrate.idempotency import HEADER, fingerprint, once


class IdempotentRequest:
    """One creating request, ready to be carried out once."""

    def __init__(
        self, sessions: sessionmaker[Session], principal: str, key: str | None, request: str
    ) -> None:
        self.sessions = sessions
        self.principal = principal
        self.key = key
        self.request = request

    def __call__(self, work: Callable[[], Any], *, status: int = 201) -> JSONResponse:
        """The response of ``work`` (its body made JSON), or the first one for this key."""
        outcome = once(
            self.sessions,
            self.principal,
            self.key,
            self.request,
            lambda: jsonable_encoder(work()),
            status=status,
        )
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
        return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)


async def idempotent_request(
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="Send the same key again to retry: the request is carried out once.",
            max_length=255,
        ),
    ] = None,
) -> IdempotentRequest:
    """The dependency: who asks, their key, and what makes the request itself."""
    body = await request.body()
    sessions = sessionmaker(request.app.state.engine)
    made = fingerprint(request.method, request.url.path, request.url.query, body)
    return IdempotentRequest(sessions, principal.key, key, made)


#: What a creating route takes.
Once = Annotated[IdempotentRequest, Depends(idempotent_request)]
