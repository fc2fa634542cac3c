"""Reading playbook runs: what ``runbook playbook runs | status`` (and the API to come) show.

Every read sweeps first (:func:`sweep_playbooks`), so a playbook run whose process died shows
as ``interrupted``, and its targets are freed, whoever asks. Light on purpose: it imports
neither the fleet runner nor the engine.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from runbook.model.audit import EventKind, playbook_subject
from runbook.model.playbooks.playbook import TargetState
from runbook.model.playbooks.playbook_run import PlaybookRun, PlaybookRunState, TargetRecord
from runbook.orchestrate.leases import lease_seconds, owner_gone
from runbook.orchestrate.playbooks.fleet_orphans import end_orphans
from runbook.orchestrate.sweeping import audit_swept
from runbook.store.playbooks.playbook_runs import (
    get_playbook_run,
    list_playbook_runs,
    list_targets,
    sweep_playbook_runs,
    update_targets,
)


def find_playbook_runs(
    session: Session,
    *,
    playbook: str | None = None,
    state: PlaybookRunState | None = None,
    limit: int | None = None,
) -> list[PlaybookRun]:
    """Playbook runs, newest first, optionally of one playbook or in one state (swept first)."""
    sweep_playbooks(session)
    return list_playbook_runs(session, playbook=playbook, state=state, limit=limit)


def playbook_status(session: Session, run_id: str) -> tuple[PlaybookRun, list[TargetRecord]]:
    """A run and its targets as recorded now (dead runs marked interrupted first)."""
    sweep_playbooks(session)
    return get_playbook_run(session, run_id), list_targets(session, run_id)


def sweep_playbooks(session: Session) -> list[str]:
    """Mark playbook runs whose process died ``interrupted`` and free their targets.

    When that process is certainly dead (gone from this host), what its shell steps left
    running is ended too (:mod:`runbook.orchestrate.playbooks.fleet_orphans`) and listed in the
    audit event; a run swept only because its lease expired keeps them (its process may
    still be alive somewhere).
    """
    marked = sweep_playbook_runs(session, lease_seconds=lease_seconds(), owner_gone=owner_gone)
    details: dict[str, dict[str, Any]] = {}
    for run_id in marked:
        if owner_gone(get_playbook_run(session, run_id).lease_owner):
            ended = end_orphans(run_id)
            _started_after_all(session, run_id, {o.target for o in ended if o.target})
            details[run_id] = {
                "ended_processes": [
                    {"pid": o.pid, "pgid": o.pgid, "command": o.command, "target": o.target}
                    for o in ended[:50]
                ]
            }
    return audit_swept(session, marked, EventKind.PLAYBOOK_RUN_FINISHED, playbook_subject, details)


def _started_after_all(session: Session, run_id: str, names: set[str]) -> None:
    """Targets the sweep took for never started (their RUNNING state was not flushed yet
    when the process died) whose step was found running: their outcome is unknown."""
    note = "outcome unknown: its step was still running when the run's process died"
    changes = {
        target.name: {"state": TargetState.INTERRUPTED, "message": note}
        for target in list_targets(session, run_id)
        if target.name in names and target.state is TargetState.SKIPPED
    }
    update_targets(session, run_id, changes)
