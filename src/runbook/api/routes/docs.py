"""``GET /docs``: the OpenAPI document's pages, every asset served by the app itself.

Operations networks are often closed, so nothing comes from a CDN: Swagger UI's script and
style (5.x, which reads the OpenAPI 3.1 document FastAPI writes) come from the static
folder of the installed ``fastapi-offline`` package (a dependency, not vendored here; only
its files are used), under ``/docs/assets/``, and the few lines that start it are a
script of ours at ``/docs/init.js``, so the page needs no inline script. Every response
of these routes carries a Content-Security-Policy allowing only the app's own origin (images also as
``data:`` URLs, which Swagger UI draws its icons with). Public: the document says what the
routes are, never what the store holds.
"""

from __future__ import annotations

import mimetypes
from importlib.resources import files
from typing import Final

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from runbook.api.permissions import public
from runbook.api.store import StoreRoute

router = APIRouter(tags=["documentation"], route_class=StoreRoute, include_in_schema=False)

#: What the page may load: the app's own origin only.
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
#: The files of the package the page uses, each served as is.
ASSETS: Final = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon.png"})
_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "public, max-age=3600",
}

_PAGE: Final = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Runbook API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

_INIT: Final = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
  });
});
"""


@router.get("/docs", dependencies=[public()])
def get_docs() -> HTMLResponse:
    """Swagger UI on the app's OpenAPI document."""
    return HTMLResponse(_PAGE, headers=_HEADERS)


@router.get("/docs/init.js", dependencies=[public()])
def get_docs_init() -> Response:
    """The script that starts Swagger UI on ``/openapi.json``."""
    return Response(_INIT, media_type="text/javascript", headers=_HEADERS)


@router.get("/docs/assets/{name}", dependencies=[public()])
def get_docs_asset(name: str) -> Response:
    """One of Swagger UI's files, from the installed package (a fixed list: no path)."""
    if name not in ASSETS:
        raise HTTPException(404, f"no documentation asset {name!r}")
    path = files("fastapi_offline") / "static" / name
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(path.read_bytes(), media_type=media_type, headers=_HEADERS)
