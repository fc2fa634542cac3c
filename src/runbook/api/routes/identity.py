"""``GET /me``: who the service takes the caller for."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from runbook.api.errors import ERROR_RESPONSES
from runbook.api.permissions import requires
from runbook.api.store import StoreRoute
from runbook.model.roles import Permission, Principal, principal_summary

router = APIRouter(tags=["identity"], responses=ERROR_RESPONSES, route_class=StoreRoute)


@router.get("/me")
def get_me(principal: Annotated[Principal, requires(Permission.VIEW)]) -> dict[str, Any]:
    """The caller's user, role, identity kind and what the role allows."""
    return principal_summary(principal)
