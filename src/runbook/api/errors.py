"""Every error the service answers with, in one JSON shape.

``{"error": {"code": <CLI exit code>, "status": <HTTP status>, "kind": <error class or
validation, not_found, method_not_allowed, internal>, "message": <one line>}}``; statuses
and codes come from :data:`runbook.outcomes.ERROR_STATUSES`, the CLI's table.
"""

from __future__ import annotations

import logging
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from runbook.errors import CredentialsError, RunbookError, TooManyFailuresError, WebhookAuthError
from runbook.outcomes import EXIT_FAILURE, EXIT_USAGE, status_of

_log = logging.getLogger("runbook.api")

_HTTP_KINDS: Final = {404: "not_found", 405: "method_not_allowed"}
_INTERNAL_MESSAGE: Final = "unexpected server error; the server's log has the details"


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: int
    status: int
    kind: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


#: The error statuses every route may answer with, for the OpenAPI document.
ERROR_RESPONSES: Final[dict[int | str, dict[str, object]]] = {
    status: {"model": ErrorBody, "description": meaning}
    for status, meaning in (
        (400, "The request is wrong"),
        (401, "No credentials, or credentials that prove nobody"),
        (429, "Too many failed authentications from this address: retry after Retry-After"),
        (403, "The caller's role does not allow it"),
        (404, "No such thing"),
        (422, "A value in the request is invalid"),
    )
}


def error_response(
    status: int, code: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An error in the one shape, its message on one line."""
    detail = ErrorDetail(code=code, status=status, kind=kind, message=" ".join(message.split()))
    return JSONResponse(ErrorBody(error=detail).model_dump(), status_code=status, headers=headers)


async def _runbook_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RunbookError)  # noqa: S101 - registered for RunbookError only
    status = status_of(exc)
    # RFC 9110: a 401 names the scheme that would work.
    refused = isinstance(exc, CredentialsError | WebhookAuthError)
    headers = {"WWW-Authenticate": "Bearer"} if refused else None
    if isinstance(exc, TooManyFailuresError):
        # Built elsewhere (unpickled, or by a test) it may lack its field: a minute, then.
        headers = {"Retry-After": str(getattr(exc, "retry_after", 60))}
    return error_response(status.http, status.exit_code, type(exc).__name__, exc.message, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = exc.errors()
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ())) or "request"
    message = f"{where}: {first.get('msg', 'invalid')}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return error_response(422, EXIT_USAGE, "validation", message)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # noqa: S101
    status = exc.status_code
    kind = _HTTP_KINDS.get(status, "http")
    message = str(exc.detail) if exc.detail else kind.replace("_", " ")
    if status == 404:
        message = f"{request.url.path}: no such route"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    code = EXIT_USAGE if status < 500 else EXIT_FAILURE
    return error_response(status, code, kind, message, dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The details stay in the server's log: a response never carries a traceback.
    _log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, EXIT_FAILURE, "internal", _INTERNAL_MESSAGE)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` in the one shape."""
    app.add_exception_handler(RunbookError, _runbook_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
