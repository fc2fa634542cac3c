"""Imported playbook definitions, playbook runs and the record of each target of a run.

A definition is imported into the store as a new *revision* of its name (1, 2, …), keeping
the version it declares, the git commit of the repository and whether the file differed
from it (``dirty``). A run freezes the definition it runs (the seed's "full playbook copied
in the run record"), so later imports never change a run in progress or its history.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the store (every command, `runbook runs` too) imports this module
    from runbook.model.playbooks.playbook import PlaybookSpec, Target, TargetState


class PlaybookRunState(StrEnum):
    """Where a playbook run is; ``interrupted`` means its process died (outcome unknown)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        """True for every state but running."""
        return self is not PlaybookRunState.RUNNING


class CancelMode(StrEnum):
    """How a cancel request treats the targets already running."""

    #: Running targets finish their steps; nothing new starts.
    FINISH = "finish"
    #: Running shell steps are killed and runbook steps interrupted.
    INTERRUPT = "interrupt"


@dataclass(frozen=True)
class PlaybookDefinition:
    """One imported revision of a playbook."""

    name: str
    revision: int
    version: str
    definition: dict[str, Any]
    sha256: str
    source: str
    git_commit: str | None
    dirty: bool | None
    imported_by: str
    imported_at: datetime

    @property
    def spec(self) -> PlaybookSpec:
        """The definition as a checked spec."""
        from runbook.model.playbooks.playbook import playbook_from_json

        return playbook_from_json(self.definition, f"{self.name} revision {self.revision}")


@dataclass(frozen=True)
class PlaybookRun:
    """The record of one playbook run, with the frozen definition it runs."""

    id: str
    playbook: str
    revision: int
    version: str
    definition: dict[str, Any]
    parameters: dict[str, Any]
    started_by: str
    state: PlaybookRunState
    started_at: datetime
    finish_ts: datetime | None = None
    retry_of: str | None = None
    cancel_mode: CancelMode | None = None
    cancel_requested_by: str | None = None
    lease_owner: str = ""
    lease_epoch: int = 1
    heartbeat_at: datetime | None = None
    message: str | None = None
    #: The reviewed playbook plan it runs under, if any (``runbook playbook plan``).
    plan_id: str | None = None

    @property
    def spec(self) -> PlaybookSpec:
        """The frozen definition as a checked spec."""
        from runbook.model.playbooks.playbook import playbook_from_json

        return playbook_from_json(self.definition, f"playbook run {self.id}")


@dataclass(frozen=True)
class TargetRecord:
    """What happened to one target in one playbook run.

    ``position`` is the target's place in the run (inventory order, then targets added
    during the run); ``batch`` its batch (1-based; None when it is not scheduled, e.g. an
    ADDED target left alone); ``start_seq`` the order in which targets started (1-based).
    ``added`` and ``removed`` stay true once set, whatever the state becomes. ``results``
    holds one entry per step attempted (and per rollback), in order.
    """

    run_id: str
    name: str
    address: str
    vars: dict[str, Any]
    state: TargetState
    position: int
    batch: int | None = None
    added: bool = False
    removed: bool = False
    attempts: int = 0
    start_seq: int | None = None
    started_at: datetime | None = None
    finish_ts: datetime | None = None
    message: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def target(self) -> Target:
        """The target as the inventory gave it."""
        from runbook.model.playbooks.playbook import Target

        return Target(self.name, self.address, dict(self.vars))


def new_playbook_run_id(now: datetime | None = None) -> str:
    """A sortable, readable playbook run id: ``pb-<UTC timestamp>-<4 hex>``."""
    moment = now or datetime.now(UTC)
    return f"pb-{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def definition_sha256(definition: dict[str, Any]) -> str:
    """The sha256 of a definition's canonical JSON (sorted keys, compact)."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
