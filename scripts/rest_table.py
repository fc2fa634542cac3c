"""Print the README's table of the service's routes from the app's own route table.

Run ``python scripts/rest_table.py`` and paste its output under "The service's REST API" in
README.md (``tests/api/test_rest_table.py`` pins it).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from fastapi.routing import APIWebSocketRoute

from runbook.api.app import create_app
from runbook.api.pages.safety import is_page
from runbook.api.permissions import DOCUMENTATION_PATHS, app_routes, route_permission
from runbook.model.repository import find_repository
from runbook.orchestrate.initialize import init_repository


def table() -> list[str]:
    """One Markdown row per method and path, with the permission it needs and its summary."""
    with tempfile.TemporaryDirectory() as folder:
        init_repository(Path(folder) / "ops")
        app = create_app(find_repository(Path(folder) / "ops"))
    rows = ["| Method | Path | Permission | What it does |", "|---|---|---|---|"]
    seen: list[tuple[str, str, str, str]] = []
    for route in app_routes(app):
        path = getattr(route, "path", "")
        if path in DOCUMENTATION_PATHS or is_page(path):
            continue  # the web pages have their own table in the README
        permission = route_permission(route)
        shown = permission if isinstance(permission, str) else "none"
        doc = (getattr(route, "endpoint", None).__doc__ or "").strip()
        summary = " ".join(doc.split("\n\n")[0].split()).replace("``", "`")
        socket = isinstance(getattr(route, "original_route", route), APIWebSocketRoute)
        for method in sorted(getattr(route, "methods", None) or (("WEBSOCKET",) if socket else ())):
            seen.append((path, method, shown, summary))
    for path, method, shown, summary in sorted(seen):
        cell = summary.replace("|", "\\|")
        rows.append(f"| {method} | `{path}` | {shown} | {cell} |")
    return rows


def main() -> None:
    """Print the table."""
    sys.stdout.write("\n".join(table()) + "\n")


if __name__ == "__main__":
    main()
