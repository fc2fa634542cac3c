"""Who a page's visitor is, what they may do, and the CSRF check of every form and action.

A page's principal comes from the session cookie (the API token signed in with, checked
again by the core on each request), else from what the API accepts without a token (the
trusted proxy's header, anonymous access). Page routes declare their permission with
:func:`page_requires`, a :class:`~runbook.api.permissions.Requirement`, so the route-table
test reads them like the API's. Every POST of a page carries the CSRF token (a form field
or the ``X-CSRF-Token`` header), checked in constant time before the route runs.
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import parse_qs

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from runbook.api.pages.web_sessions import (
    CSRF_COOKIE,
    SECURE_CSRF_COOKIE,
    SECURE_SESSION_COOKIE,
    SESSION_COOKIE,
    WebSession,
    WebSessions,
    same_token,
)
from runbook.api.permissions import Requirement
from runbook.api.principals import credentials_of
from runbook.model.roles import Permission, Principal, allows
from runbook.orchestrate.auth_throttle import authenticate_throttled
from runbook.orchestrate.authentication import Authenticator, Credentials

#: The field of every form, and the header of every fetch, that carries the CSRF token.
CSRF_FIELD: Final = "csrf"
CSRF_HEADER: Final = "x-csrf-token"
#: A form body larger than this is refused before it is parsed (bytes).
FORM_LIMIT: Final = 64 * 1024


def secure(request: Request) -> bool:
    """Whether the browser reached us over https (cookies are then Secure and ``__Host-``)."""
    return request.url.scheme == "https"


def session_cookie_name(request: Request) -> str:
    """The session cookie's name on this connection."""
    return SECURE_SESSION_COOKIE if secure(request) else SESSION_COOKIE


def csrf_cookie_name(request: Request) -> str:
    """The signed-out CSRF cookie's name on this connection."""
    return SECURE_CSRF_COOKIE if secure(request) else CSRF_COOKIE


def web_sessions(request: Request) -> WebSessions:
    """The app's signed-in sessions."""
    sessions: WebSessions = request.app.state.web_sessions
    return sessions


def current_session(request: Request) -> WebSession | None:
    """The visitor's live session, if they signed in."""
    return web_sessions(request).get(request.cookies.get(session_cookie_name(request)))


async def page_principal(request: Request) -> Principal:
    """The visitor: their session's token, else the proxy header or anonymous access as
    the API allows them (CredentialsError, a redirect to sign in, when none applies)."""
    authenticator: Authenticator = request.app.state.authenticator
    session = current_session(request)
    if session is not None:
        peer = request.client.host if request.client else None
        credentials = Credentials(bearer=session.secret, peer=peer)
    else:
        # The API's credentials, but a page never takes a bearer from a browser's headers.
        found = credentials_of(request, authenticator)
        credentials = Credentials(proxy_user=found.proxy_user, peer=found.peer)
    principal = await run_in_threadpool(
        authenticate_throttled, authenticator, request.app.state.auth_throttle, credentials
    )
    request.state.principal = principal
    request.state.user = principal.user  # for the access log line
    return principal


class PageRequirement(Requirement):
    """:class:`~runbook.api.permissions.Requirement` for a page: the same check, on the
    page's visitor."""

    def __call__(self, principal: Annotated[Principal, Depends(page_principal)]) -> Principal:
        """The visitor, when allowed; ForbiddenError otherwise."""
        return super().__call__(principal)


def page_requires(permission: Permission) -> Any:
    """The dependency of a page that needs ``permission``; it yields the :class:`Principal`."""
    return Depends(PageRequirement(permission))


def permissions_of(principal: Principal) -> dict[str, bool]:
    """What the visitor may do, by permission name, for templates to show or hide actions
    (the routes check again: a hidden button is a courtesy, not the rule)."""
    return {p.value: allows(principal, p) for p in Permission}


def expected_csrf(request: Request) -> str | None:
    """The CSRF token this visitor's forms must carry: their session's, else the cookie's."""
    session = current_session(request)
    if session is not None:
        return session.csrf
    return request.cookies.get(csrf_cookie_name(request))


async def read_form(request: Request) -> dict[str, str]:
    """The URL-encoded form of a POST (first value of each field); 413 when too large,
    415 when not a form."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", ""):
        raise HTTPException(415, "a page form is sent as application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > FORM_LIMIT:
        raise HTTPException(413, f"a form may hold at most {FORM_LIMIT} bytes")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise HTTPException(400, "the form is not UTF-8") from None
    return {name: values[0] for name, values in fields.items()}


async def checked_form(request: Request) -> dict[str, str]:
    """The POST's form, once its CSRF token (field or header) is seen to be the visitor's;
    403 otherwise, before the route does anything."""
    form = await read_form(request)
    given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not same_token(given, expected_csrf(request)):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page")
    return form


Form = Annotated[dict[str, str], Depends(checked_form)]
