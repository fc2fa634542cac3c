"""A runbook's cells as a page shows them, read-only: Markdown rendered then cleaned by the
reports' nh3 allowlist (:func:`runbook.engine.sanitize.clean_html`), code as escaped text."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup


def markdown_html(text: str) -> Markup:
    """Markdown as HTML that carries no script, handler or remote resource."""
    # Here, not at the top: nbconvert's renderer loads only when a runbook page is shown.
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    from runbook.engine.sanitize import clean_html

    renderer = IPythonRenderer(escape=False, exclude_anchor_links=True)
    return Markup(clean_html(MarkdownWithMath(renderer=renderer).render(text)))  # noqa: S704


def shown_cells(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cells of ``runbook show --json`` with their Markdown rendered (``html``)."""
    return [
        {**cell, "html": markdown_html(cell["source"]) if cell["type"] == "markdown" else None}
        for cell in cells
    ]


def shown_parameters(declared: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each declared parameter with every key a form needs (absent ones as empty)."""
    blank = {"type": "str", "required": False, "help": "", "secret": False, "choices": []}
    return {name: {**blank, "default": None, **spec} for name, spec in declared.items()}


def field_errors(error: Exception, names: set[str]) -> dict[str, str]:
    """A planning error as a message next to the field it names, else under ``""``."""
    name = getattr(error, "name", None)
    reason = getattr(error, "reason", None) or getattr(error, "message", None) or str(error)
    key = name if isinstance(name, str) and name in names else ""
    return {key: " ".join(str(reason).split())}
