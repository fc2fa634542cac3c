"""Every route declares who may call it: ``requires(Permission.X)``, ``public()``, or
``source_secret(kind)`` (an alert webhook: its sender proves its source's secret, never a
user's token; :mod:`runbook.api.webhooks`).

The declaration is a dependency, so FastAPI enforces it on every request, and it can be
read back from the route table (:func:`route_permission`): a test fails on any route
without one. The rules of who holds what are in :mod:`runbook.model.roles`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI, Request
from fastapi.routing import iter_route_contexts

from runbook.api.principals import authenticate
from runbook.errors import ForbiddenError
from runbook.model.roles import Permission, Principal, allows

#: What :func:`route_permission` says of a route anyone may call.
PUBLIC: Final = "public"
#: What :func:`route_permission` says of an alert webhook, authenticated by its source's secret.
SOURCE_SECRET: Final = "source secret"  # noqa: S105 - a kind of check, not a secret

#: The OpenAPI document (FastAPI's own route) and its pages (api/routes/docs.py, each
#: declared public()): public on purpose, and not in the README's table of routes.
DOCUMENTATION_PATHS: Final = frozenset(
    {"/openapi.json", "/docs", "/docs/init.js", "/docs/assets/{name}"}
)


class Requirement:
    """A dependency that lets a request through when its principal holds ``permission``."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __call__(self, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        """The caller, when allowed; ForbiddenError otherwise."""
        if not allows(principal, self.permission):
            raise ForbiddenError(principal.user, principal.role.value, self.permission.value)
        return principal


class Public:
    """A dependency that marks a route anyone may call (health checks, documentation)."""

    def __call__(self, request: Request) -> None:
        """Nothing to check."""


class SourceSecretMarker:
    """The mark of a dependency that authenticates an alert's sender by its source's
    secret (:class:`runbook.api.webhooks.SenderCheck`)."""


def requires(permission: Permission) -> Any:
    """The dependency of a route that needs ``permission``; it yields the :class:`Principal`."""
    return Depends(Requirement(permission))


def public() -> Any:
    """The dependency of a route anyone may call."""
    return Depends(Public())


def app_routes(app: FastAPI) -> Iterator[Any]:
    """Every route ``app`` serves, those of included routers too, with the dependencies
    their routers added."""
    return iter_route_contexts(app.routes)


def route_permission(route: Any) -> Permission | str | None:
    """The permission ``route`` (one of :func:`app_routes`) declares, :data:`PUBLIC`,
    :data:`SOURCE_SECRET`, or None when it declares none."""
    path = getattr(route, "path", "")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return PUBLIC if path in DOCUMENTATION_PATHS else None
    pending = list(dependant.dependencies)
    while pending:
        dependency = pending.pop()
        call = dependency.call
        if isinstance(call, Requirement):
            return call.permission
        if isinstance(call, Public):
            return PUBLIC
        if isinstance(call, SourceSecretMarker):
            return SOURCE_SECRET
        pending.extend(dependency.dependencies)
    return None
