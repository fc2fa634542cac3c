"""What every page response carries: security headers, and errors as pages.

The pages' Content-Security-Policy allows scripts, styles and fetches from this server
only, no inline script or style, no frames, no plugins, forms posting only here; so
whatever a notebook printed cannot run even if it reached the page unescaped. Errors on a
page are a page (a sign-in redirect for a visitor without credentials); the API's errors
keep their JSON shape.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runbook.errors import CredentialsError, RunbookError
from runbook.outcomes import status_of

#: Where the pages live.
PREFIX: Final = "/ui"

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: A run's report: its own inline styles, nothing else, and no script even if one slipped in.
REPORT_CSP: Final = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
)
HEADERS: Final = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "cache-control": "no-store",
}


def is_page(path: str) -> bool:
    """Whether ``path`` is one of the pages (or their static files)."""
    return path == PREFIX or path.startswith(PREFIX + "/")


class SecurityHeaders:
    """ASGI middleware: :data:`HEADERS` on every page response (a route may set its own
    Content-Security-Policy or Cache-Control, which is then kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to a page's response as it starts."""
        if scope["type"] != "http" or not is_page(scope.get("path", "")):
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.decode("latin-1").lower() for name, _ in headers}
                for name, value in HEADERS.items():
                    if name not in present:
                        headers.append((name.encode("latin-1"), value.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)


Handler = Callable[[Request, Exception], Awaitable[Response]]
ApiHandler = Callable[[Request, Any], Response | Awaitable[Response]]


def _error_page(request: Request, status: int, message: str) -> Response:
    from runbook.api.pages.templating import page  # the templates load on first use

    return page(request, "error.html", status_code=status, status=status, message=message)


async def _answer(api_handler: ApiHandler, request: Request, exc: Exception) -> Response:
    answered = api_handler(request, exc)
    return await answered if inspect.isawaitable(answered) else answered


def _as_page(api_handler: ApiHandler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if not is_page(request.url.path):
            return await _answer(api_handler, request, exc)
        if isinstance(exc, CredentialsError):
            if request.method == "GET":
                target = quote(request.url.path, safe="/")
                return RedirectResponse(f"{PREFIX}/login?next={target}", status_code=303)
            return _error_page(request, 401, "sign in first")
        if isinstance(exc, RunbookError):
            return _error_page(request, status_of(exc).http, " ".join(exc.message.split()))
        if isinstance(exc, HTTPException):
            return _error_page(request, exc.status_code, str(exc.detail))
        if isinstance(exc, RequestValidationError):
            return _error_page(request, 422, "a value in the request is invalid")
        return await _answer(api_handler, request, exc)

    return handle


def install_safety(app: FastAPI) -> None:
    """Security headers on every page, and the pages' errors as pages (after the API's
    handlers are installed: they stay the ones for every other path)."""
    app.add_middleware(SecurityHeaders)
    for kind in (RunbookError, HTTPException, RequestValidationError):
        api_handler = app.exception_handlers[kind]
        app.add_exception_handler(kind, _as_page(api_handler))
