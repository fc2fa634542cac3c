"""A plan: a runbook bound to parameter values, frozen, with the sha256 of its content."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from runbook.model.review_rules import RecordedRules
from runbook.typing import Notebook


class PlanState(StrEnum):
    """Where a plan is in its life. ``planned`` waits for a review when one is required."""

    PLANNED = "planned"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Plan:
    """A frozen, parameterised runbook ready for review and execution.

    ``parameters`` holds the bound values in JSON form (dates as ISO strings); a secret
    parameter holds its *reference* (``env:NAME``, ``file:PATH``, ``secret:NAME``), never its
    value. ``content`` is the canonical JSON of the planned notebook and ``sha256`` its digest.
    """

    id: str
    runbook_path: str
    title: str
    sha256: str
    parameters: dict[str, Any]
    planned_by: str
    planned_at: datetime
    state: PlanState
    notebook_path: str
    review_required: bool
    content: str = field(repr=False)
    #: The review rules it was made under; None for a plan made before they were recorded.
    review_rules: RecordedRules | None = None
    #: The standing approval that approved it, for a plan an unattended caller made.
    standing_approval: str | None = None


def canonical_json(notebook: Notebook) -> str:
    """The canonical text of a notebook: key-sorted, compact JSON with sources as strings.

    Two notebooks that differ only in JSON layout (indentation, source split into lines)
    have the same canonical text; any change of a cell, tag, output or metadata value
    changes it.
    """
    return json.dumps(
        _join_sources(notebook), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def content_sha256(canonical: str) -> str:
    """The sha256 hex digest of a canonical notebook text."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _join_sources(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: "".join(value)
            if key == "source" and isinstance(value, list)
            else _join_sources(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_join_sources(item) for item in node]
    return node
