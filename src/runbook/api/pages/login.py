"""Signing in with an API token, signing out, and the pages' own static files.

The sign-in form posts the token (never in a URL); the core checks it as it checks a
bearer, and only then is a session opened. The form is guarded by a double-submit CSRF
token (a cookie echoed by the form), so another site cannot sign a browser into its own
account. ``next`` only ever leads to a page of ours.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated, Final

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from runbook.api.pages.guard import (
    CSRF_FIELD,
    csrf_cookie_name,
    current_session,
    read_form,
    secure,
    session_cookie_name,
    web_sessions,
)
from runbook.api.pages.safety import PREFIX
from runbook.api.pages.templating import page
from runbook.api.pages.web_sessions import LIFETIME, new_token, same_token
from runbook.api.permissions import public
from runbook.api.store import StoreRoute
from runbook.errors import CredentialsError
from runbook.model.api_token import TOKEN_PREFIX
from runbook.orchestrate.auth_throttle import authenticate_throttled
from runbook.orchestrate.authentication import Authenticator, Credentials

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=StoreRoute)
STATIC: Final = Path(__file__).parent / "static"


def _next_page(given: str | None) -> str:
    """Where to go after signing in: a page of ours, else the start page."""
    if given and given.startswith(PREFIX + "/") and not given.startswith("//"):
        return given if "\\" not in given else PREFIX + "/"
    return PREFIX + "/"


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(LIFETIME),
        path="/",
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )


@router.get("/login", dependencies=[public()])
def get_login(request: Request, next: Annotated[str | None, Query()] = None) -> Response:
    """The sign-in form."""
    known = request.cookies.get(csrf_cookie_name(request))
    fresh = known or new_token()
    response = page(request, "login.html", next=_next_page(next), error=None, login_csrf=fresh)
    if known is None:
        _set_cookie(request, response, csrf_cookie_name(request), fresh)
    return response


@router.post("/login", dependencies=[public()])
async def post_login(request: Request) -> Response:
    """Check the token posted, open a session for it and go on to ``next``."""
    form = await read_form(request)
    if not same_token(form.get(CSRF_FIELD), request.cookies.get(csrf_cookie_name(request))):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page")
    secret = form.get("token", "").strip()
    target = _next_page(form.get("next"))
    authenticator: Authenticator = request.app.state.authenticator
    peer = request.client.host if request.client else None
    try:
        if not secret.startswith(TOKEN_PREFIX):
            raise CredentialsError(f"an API token starts with {TOKEN_PREFIX}")
        # Through the throttle, as the API's bearer tokens: guesses by form count too.
        await run_in_threadpool(
            authenticate_throttled,
            authenticator,
            request.app.state.auth_throttle,
            Credentials(bearer=secret, peer=peer),
        )
    except CredentialsError as error:
        csrf = form.get(CSRF_FIELD, "")
        return page(request, "login.html", 401, next=target, error=error.reason, login_csrf=csrf)
    session_id, _ = web_sessions(request).open(secret)
    response = RedirectResponse(target, status_code=303)
    _set_cookie(request, response, session_cookie_name(request), session_id)
    response.delete_cookie(csrf_cookie_name(request), path="/")
    return response


@router.post("/logout", dependencies=[public()])
async def post_logout(request: Request) -> Response:
    """End the visitor's session (its CSRF token must come with the request)."""
    form = await read_form(request)
    session = current_session(request)
    if session is None or not same_token(form.get(CSRF_FIELD), session.csrf):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page")
    web_sessions(request).close(request.cookies.get(session_cookie_name(request)))
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(session_cookie_name(request), path="/")
    return response


@router.get("/static/{name}", dependencies=[public()])
def get_static(name: str) -> Response:
    """One of the pages' own scripts or style sheets (no third-party code)."""
    known = {p.name: p for p in STATIC.iterdir() if p.is_file()}
    if name not in known:
        raise HTTPException(404, f"{PREFIX}/static/{name}: no such file")
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(known[name], media_type=kind, headers={"cache-control": "no-cache"})
