"""The error-collecting base of the YAML validators (workflows, playbooks).

A validator walks a parsed document, records every problem as a SpecError at its path and
goes on building, so one pass reports them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runbook.errors import SpecError
from runbook.model.workflow import describe


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
