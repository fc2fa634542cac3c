"""What every request goes through: an id, a body limit, security headers, one JSON log line
and its count in the metrics.

Pure ASGI (no BaseHTTPMiddleware): it adds nothing to a request's path but a few header
operations, and streaming responses (server-sent events) pass through untouched.

- **Request id**: the caller's ``X-Request-Id`` when it is a sane token (so a proxy's id
  follows the request), else a fresh one; echoed on the response and in the log line.
- **Body limit**: a declared ``Content-Length`` over :data:`MAX_BODY_BYTES` (a session's
  JupyterLab, through the proxy: :data:`SESSION_BODY_BYTES`) is refused at once (413); a
  body without one is counted as it is read, and refused when it goes over.
- **Security headers**: ``nosniff``, no framing, no referrer on every response; JSON ones
  also get ``Cache-Control: no-store`` and a Content-Security-Policy that allows nothing
  (a route or page that set its own keeps it).
- **Access log**: one JSON line on the ``runbook.access`` logger per request: id, method,
  route template, status, milliseconds, peer and the authenticated user when there is one.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Final

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runbook.api.errors import error_response
from runbook.orchestrate.service_metrics import ServiceMetrics
from runbook.outcomes import EXIT_USAGE

#: The largest request body accepted (webhook payloads, plans' values, signed verdicts).
MAX_BODY_BYTES: Final = 1024 * 1024
#: What a session's JupyterLab may be sent through the proxy (a notebook saved with its
#: outputs, a file uploaded): ``/sessions/{name}/…`` beyond the service's own routes.
SESSION_BODY_BYTES: Final = 256 * 1024 * 1024
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_ALWAYS: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
)
# Pages set their own (tests/api/pages): a same-origin referrer, their own policy.
_JSON_ONLY: Final = (
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)

access_log = logging.getLogger("runbook.access")


class BodyTooLarge(HTTPException):
    """A request body over the limit (raised while it is read: FastAPI passes it on)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over {limit} bytes")


def body_limit(path: str) -> int:
    """The largest body a request to ``path`` may send."""
    parts = path.split("/")
    return SESSION_BODY_BYTES if len(parts) > 3 and parts[1] == "sessions" else MAX_BODY_BYTES


def request_id_of(scope: Scope) -> str:
    """The request's id: the caller's ``X-Request-Id`` when sane, else a fresh one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(given):
                return str(given)
    return uuid.uuid4().hex


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestContext:
    """The middleware (see the module's docstring); ``metrics`` counts what it answers."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one request (other kinds of connection pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        declared = _declared_length(scope)
        limit = body_limit(str(scope.get("path", "")))
        if declared is not None and declared > limit:
            await _refuse_body(send, request_id, limit)
            self._answered(scope, 413, started)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = _with_headers(list(message.get("headers", [])), request_id)
            await send(message)

        try:
            await self.app(scope, limited_receive, sending)
        finally:
            self._answered(scope, status, started)

    def _answered(self, scope: Scope, status: int, started: float) -> None:
        seconds = time.perf_counter() - started
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        method = str(scope.get("method", ""))
        self.metrics.answered(method, route, status, seconds)
        state = scope.get("state", {})
        client = scope.get("client")
        line = {
            "request_id": state.get("request_id"),
            "method": method,
            "route": route,
            "status": status,
            "ms": round(seconds * 1000, 1),
            "peer": client[0] if client else None,
            "user": state.get("user"),
        }
        access_log.info("%s %s %s", method, route, status, extra={"fields": line})


def _with_headers(headers: list[tuple[bytes, bytes]], request_id: str) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    json_body = any(
        name.lower() == b"content-type" and value.startswith(b"application/json")
        for name, value in headers
    )
    wanted = (*_ALWAYS, *(_JSON_ONLY if json_body else ()), (b"x-request-id", request_id.encode()))
    return headers + [(name, value) for name, value in wanted if name not in present]


async def _refuse_body(send: Send, request_id: str, limit: int) -> None:
    response = error_response(413, EXIT_USAGE, "http", f"the request body is over {limit} bytes")
    headers = _with_headers(list(response.raw_headers), request_id)
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
