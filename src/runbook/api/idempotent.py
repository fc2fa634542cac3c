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

from runbook.api.errors import ERROR_RESPONSES, ErrorBody
from runbook.api.principals import authenticate
from runbook.api.store import store_session
from runbook.model.roles import Principal
from runbook.orchestrate.idempotency import HEADER, KEY_PATTERN, fingerprint, once

#: The error statuses of a router with creating routes: those of every route, and 409 (an
#: ``Idempotency-Key`` reused, a target or plan in use, something that exists already).
CREATING_RESPONSES: dict[int | str, dict[str, object]] = {
    **ERROR_RESPONSES,
    409: {"model": ErrorBody, "description": "In conflict with what is there already"},
}


class IdempotentRequest:
    """One creating request, ready to be carried out once."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        principal: str,
        key: str | None,
        request: str,
        session: Session,
    ) -> None:
        self.sessions = sessions
        self.principal = principal
        self.key = key
        self.request = request
        self.session = session

    def __call__(self, work: Callable[[], Any], *, status: int = 201) -> JSONResponse:
        """The response of ``work`` (its body made JSON), or the first one for this key."""
        outcome = once(
            self.sessions,
            self.principal,
            self.key,
            self.request,
            lambda: self._carried_out(work),
            status=status,
        )
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
        return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)

    def _carried_out(self, work: Callable[[], Any]) -> Any:
        # The route's transaction ends here, before the key's record is written in one of
        # its own: on SQLite every transaction holds the write lock, so the two would wait
        # for each other.
        try:
            body = jsonable_encoder(work())
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        return body


async def idempotent_request(
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    session: Annotated[Session, Depends(store_session)],
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="Send the same key again to retry: the request is carried out once.",
            max_length=255,
            pattern=KEY_PATTERN,
        ),
    ] = None,
) -> IdempotentRequest:
    """The dependency: who asks, their key, what makes the request itself, and the
    request's store session (the route's own: FastAPI gives both the same one)."""
    body = await request.body()
    sessions = sessionmaker(request.app.state.engine)
    made = fingerprint(request.method, request.url.path, request.url.query, body)
    return IdempotentRequest(sessions, principal.key, key, made, session)


#: What a creating route takes.
Once = Annotated[IdempotentRequest, Depends(idempotent_request)]
