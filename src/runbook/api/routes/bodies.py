"""The bodies of the creating routes: what each takes, and nothing else (an unknown field is
a 422 naming it). Values are checked by the core; these only give them their JSON types."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class PlanBody(Body):
    """``POST /plans``: ``runbook plan``'s arguments. The planner is the caller."""

    runbook: str = Field(min_length=1, description="The runbook's name or path.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Name → value.")
    cwd: str | None = Field(default=None, description="The kernel's working directory.")
    force: bool = Field(default=False, description="Plan past `runbook check` errors.")


class ReviewBody(Body):
    """``POST /plans/{id}/reviews``: a verdict, optionally signed by the caller's SSH key
    over ``runbook.model.review.signed_message`` with ``nonce``."""

    verdict: str = Field(description="approve, reject or withdraw.")
    comment: str | None = None
    nonce: str | None = Field(default=None, min_length=1, max_length=128)
    signature: str | None = Field(default=None, min_length=1, max_length=16384)


class StandingBody(Body):
    """``POST /standing``: ``runbook approve-standing``'s arguments. The reviewer is the
    caller."""

    runbook: str = Field(min_length=1, description="A runbook's (or a workflow's) name.")
    workflow: bool = Field(default=False, description="`runbook` names a workflow.")
    callers: list[str] = Field(min_length=1, description="workflow:NAME, playbook:NAME …")
    bounds: dict[str, str] = Field(default_factory=dict, description="Parameter → bound.")
    expires: str = Field(default="30d", description="How long it stands: 36h, 30d, 8w.")
    confirm_unattended: bool = False
    comment: str | None = None
    id: str | None = Field(
        default=None, max_length=64, description="A signed draft's id (`POST /standing/draft`)."
    )
    approved_at: dt.datetime | None = Field(default=None, description="The signed draft's moment.")
    signature: str | None = Field(
        default=None,
        min_length=1,
        max_length=16384,
        description="The caller's SSH signature over the draft's message.",
    )


class WorkflowRunBody(Body):
    """``POST /workflows/{name}/runs``."""

    parameters: dict[str, Any] = Field(default_factory=dict)
    date: dt.date | None = Field(default=None, description="The reference_date (today).")


class PlaybookImportBody(Body):
    """``POST /playbooks/import``."""

    path: str = Field(min_length=1, description="The playbook file, inside the repository.")


class PlaybookPlanBody(Body):
    """``POST /playbooks/{name}/plans``."""

    parameters: dict[str, Any] = Field(default_factory=dict)
    version: str | None = None
    revision: int | None = Field(default=None, ge=1, le=2**31 - 1)


class PlaybookRunBody(PlaybookPlanBody):
    """``POST /playbooks/{name}/runs``: a revision with values, or a reviewed ``plan``."""

    plan: str | None = Field(default=None, description="A reviewed plan of the playbook.")
    yes: bool = Field(default=False, description="Answer confirm and manual cells yes.")


class RetryBody(Body):
    """``POST /playbook-runs/{id}/retry``: its FAILED targets, again."""

    yes: bool = False


class CancelBody(Body):
    """``POST /playbook-runs/{id}/cancel``."""

    interrupt: bool = Field(default=False, description="Also stop the running targets.")


class GcBody(Body):
    """``POST /gc``."""

    dry_run: bool = False


class SessionBody(Body):
    """``POST /sessions``: a session's name, what it edits, its options."""

    name: str = Field(description="The session's name: 1-40 of a-z, 0-9 and '-'.")
    runbook: str | None = Field(default=None, description="A runbook to open (name or path).")
    branch: str | None = Field(
        default=None, description="The branch to edit (default session/<user>/<name>)."
    )
    # Any: the core checks each value and names the option it refuses.
    options: dict[str, Any] | None = Field(
        default=None, description="memory_mb, cpu_seconds, idle_timeout (GET /sessions/options)."
    )
    restore: bool = Field(
        default=False, description="Bring back the newest autosave of the branch, uncommitted."
    )


class PauseBody(Body):
    """``POST /catalog/pause``."""

    reason: str | None = Field(default=None, max_length=2000, description="Why (audited).")
