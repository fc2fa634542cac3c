"""What every YAML validator (workflows, playbooks) shares: the error-collecting base and helpers.

A validator walks a parsed document, records every problem as a SpecError at its path and
goes on building, so one pass reports them all. The helpers name values for error messages,
check relative paths and find dependency cycles; they know no product.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from runbook.errors import SpecError


def describe(value: object) -> str:
    """``value`` named for an error message: its kind, and the value when short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return f"{type(value).__name__} {value!r}"


def path_problem(value: object, inside: str = "the inputs folder") -> str | None:
    """Why ``value`` is not a relative path that stays inside ``inside``, else None.

    ``inside`` names the folder paths are relative to, as the error message says it.
    """
    if not isinstance(value, str) or not value.strip():
        return f"expected a relative file name, not {describe(value)}"
    if "\x00" in value:
        return "contains a NUL byte"
    if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value):
        return f"{value!r} is absolute: paths must stay inside {inside}"
    if ".." in re.split(r"[/\\]", value):
        return f"{value!r} contains '..': paths must stay inside {inside}"
    return None


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Every distinct cycle found in ``graph`` (node → the nodes it needs), each once.

    A cycle ``[a, b]`` means a needs b and b needs a.
    """
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def visit(key: str, trail: list[str]) -> None:
        state[key] = 1
        trail.append(key)
        for needed in graph.get(key, []):
            if state.get(needed) == 1:
                cycle = trail[trail.index(needed) :]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    cycles.append(cycle)
            elif needed not in state:
                visit(needed, trail)
        trail.pop()
        state[key] = 2

    for key in graph:
        if key not in state:
            visit(key, [])
    return cycles


class SpecBuilder:
    """Collects SpecErrors into ``errors`` while a document is checked and built."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = errors

    def fail(self, where: str, reason: str) -> None:
        """Record one problem at ``where``."""
        self.errors.append(SpecError(where, reason))

    def mapping(self, raw: object, where: str, allowed: Iterable[str]) -> dict[Any, Any] | None:
        """``raw`` if it is a mapping (unknown keys recorded as errors), else None.

        ``where`` is the mapping's path; an empty path is the document's top level.
        """
        if not isinstance(raw, dict):
            self.fail(where, f"expected a mapping, not {describe(raw)}")
            return None
        known = tuple(allowed)
        for key in raw:
            if key not in known:
                place = f"{where}.{key}" if where else str(key)
                self.fail(place, f"unknown key (expected one of: {', '.join(known)})")
        return raw
