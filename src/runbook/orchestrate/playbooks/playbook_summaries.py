"""The JSON forms of imported playbooks, playbook runs and their targets (CLI and API)."""

from __future__ import annotations

from typing import Any

from runbook.model.playbooks.playbook_run import PlaybookDefinition, PlaybookRun, TargetRecord


def definition_summary(found: PlaybookDefinition) -> dict[str, Any]:
    """The JSON form of an imported revision (without its definition)."""
    return {
        "name": found.name,
        "revision": found.revision,
        "version": found.version,
        "sha256": found.sha256,
        "source": found.source,
        "git_commit": found.git_commit,
        "dirty": found.dirty,
        "imported_by": found.imported_by,
        "imported_at": found.imported_at.isoformat(),
    }


def playbook_run_summary(run: PlaybookRun) -> dict[str, Any]:
    """The JSON form of a playbook run (without its targets)."""
    return {
        "id": run.id,
        "playbook": run.playbook,
        "revision": run.revision,
        "version": run.version,
        "state": run.state.value,
        "started_by": run.started_by,
        "started_at": run.started_at.isoformat(),
        "finish_ts": run.finish_ts.isoformat() if run.finish_ts else None,
        "parameters": run.parameters,
        "retry_of": run.retry_of,
        "plan_id": run.plan_id,
        "cancel": run.cancel_mode.value if run.cancel_mode else None,
        "cancel_requested_by": run.cancel_requested_by,
        "message": run.message,
    }


def target_summary(record: TargetRecord) -> dict[str, Any]:
    """The JSON form of a target record."""
    return {
        "name": record.name,
        "address": record.address,
        "state": record.state.value,
        "batch": record.batch,
        "added": record.added,
        "removed": record.removed,
        "attempts": record.attempts,
        "start_seq": record.start_seq,
        "started_at": record.started_at.isoformat() if record.started_at else None,
        "finish_ts": record.finish_ts.isoformat() if record.finish_ts else None,
        "message": record.message,
        "results": record.results,
    }
