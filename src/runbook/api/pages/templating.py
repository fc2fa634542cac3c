"""Rendering a page: Jinja2 with autoescaping always on, and what every page is given.

Every template gets the visitor (``principal``), what they may do (``can``), the CSRF token
for its forms (``csrf``) and the page's path; values are escaped unless a template marks
HTML that :mod:`runbook.api.pages.rendering` cleaned with nh3.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from runbook.api.pages.guard import expected_csrf, permissions_of
from runbook.model.roles import Principal

TEMPLATES: Final = Path(__file__).parent / "templates"


def _when(value: object) -> str:
    """An ISO time (or datetime) as ``YYYY-MM-DD HH:MM:SS``; anything else as text."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value or "")
    return text[:19].replace("T", " ")


@cache
def environment() -> jinja2.Environment:
    """The pages' Jinja2 environment (autoescape on for every template, undefined is an
    error so a typo in a template fails its test)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    return env


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered for the visitor of ``request``."""
    principal: Principal | None = getattr(request.state, "principal", None)
    given = {
        "principal": principal,
        "can": permissions_of(principal) if principal is not None else {},
        "csrf": expected_csrf(request) or "",
        "path": request.url.path,
        **context,
    }
    html = environment().get_template(template).render(**given)
    return HTMLResponse(html, status_code=status_code)
