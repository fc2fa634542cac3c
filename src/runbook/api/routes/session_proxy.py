"""``/sessions/{name}/…``: HTTP to the caller's own session, proxied to its Jupyter server.

The caller is authorized as the session's owner (another caller's session does not exist
for them); the caller's credentials stay here, and the session's token is added here and
masked out of every answer, so it never leaves the server. Bodies are buffered (the token
is masked in them), and asked for uncompressed so that masking sees them.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Annotated, Any, Final

from fastapi import APIRouter, Request, Response, WebSocket
from starlette.concurrency import run_in_threadpool

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.permissions import requires
from runbook.api.routes.sessions import sessions
from runbook.api.store import StoreRoute
from runbook.model.roles import Permission, Principal

router = APIRouter(tags=["sessions"], responses=ERROR_RESPONSES, route_class=StoreRoute)
Editor = Annotated[Principal, requires(Permission.EDIT)]

#: Never forwarded upstream: the caller's credentials, and what the hop itself sets.
_DROPPED_UP: Final = frozenset(
    {"authorization", "cookie", "host", "connection", "accept-encoding", "content-length"}
)
#: Never handed back: hop-by-hop headers, and lengths the masking may change.
_DROPPED_DOWN: Final = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}
)
_METHODS: Final = ["GET", "POST", "PUT", "PATCH", "DELETE"]


# Not in the OpenAPI document: what it answers is Jupyter's own API, not the service's.
@router.api_route("/sessions/{name}/{path:path}", methods=_METHODS, include_in_schema=False)
async def proxy_session(name: str, path: str, request: Request, principal: Editor) -> Response:
    """Forward the request to the caller's session ``name`` (its Jupyter server serves
    ``/sessions/{name}/``); a session that is not the caller's, or not running, is a 404."""
    import httpx

    port, token = await run_in_threadpool(sessions(request).endpoint, principal.user, name)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED_UP}
    headers |= {"Authorization": f"token {token}", "Accept-Encoding": "identity"}
    url = f"http://127.0.0.1:{port}/sessions/{name}/{path}"
    async with httpx.AsyncClient(timeout=120) as client:
        upstream = await client.request(
            request.method,
            url,
            params=list(request.query_params.multi_items()),
            headers=headers,
            content=await request.body(),
        )
    secret = token.encode()
    body = upstream.content.replace(secret, b"***")
    kept = [
        (k, v.replace(token, "***"))
        for k, v in upstream.headers.multi_items()
        if k.lower() not in _DROPPED_DOWN
    ]
    response = Response(content=body, status_code=upstream.status_code)
    for key, value in kept:
        response.headers.append(key, value)
    return response


@router.websocket("/sessions/{name}/{path:path}")
async def proxy_session_socket(
    websocket: WebSocket, name: str, path: str, principal: Editor
) -> None:
    """Relay a WebSocket (a kernel's channels) to the caller's session ``name``, both ways,
    the token masked in what comes back; refused at the handshake for anyone else."""
    import websockets

    port, token = await run_in_threadpool(sessions(websocket).endpoint, principal.user, name)
    query = f"?{websocket.url.query}" if websocket.url.query else ""
    url = f"ws://127.0.0.1:{port}/sessions/{name}/{path}{query}"
    offered = list(websocket.scope.get("subprotocols") or [])
    async with websockets.connect(
        url,
        additional_headers={"Authorization": f"token {token}"},
        subprotocols=[websockets.Subprotocol(p) for p in offered] or None,
        max_size=None,
    ) as upstream:
        await websocket.accept(subprotocol=upstream.subprotocol)
        await _relay(websocket, upstream, token)


async def _relay(websocket: WebSocket, upstream: Any, token: str) -> None:
    async def down() -> None:
        async for message in upstream:
            if isinstance(message, str):
                await websocket.send_text(message.replace(token, "***"))
            else:
                await websocket.send_bytes(message.replace(token.encode(), b"***"))

    async def up() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            await upstream.send(message.get("text") or message.get("bytes") or b"")

    tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        with suppress(Exception):
            await websocket.close()
