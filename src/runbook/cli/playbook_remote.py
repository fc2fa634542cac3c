"""``runbook playbook …`` against a server: its REST routes, the same printers as locally.

The server answers with the JSON forms ``--json`` prints
(:mod:`runbook.orchestrate.playbooks.playbook_summaries`); they are read back into records
here so that the local printers show them, and a text or JSON output is the same whether
the store is local or the server's. What a form leaves out (a run's frozen definition, a
target's vars) no printer shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from runbook.model.playbooks.playbook import TargetState
from runbook.model.playbooks.playbook_run import (
    CancelMode,
    PlaybookDefinition,
    PlaybookRun,
    PlaybookRunState,
    TargetRecord,
)
from runbook.orchestrate.remote_client import RemoteClient

Status = tuple[PlaybookRun, list[TargetRecord]]


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def definition_from(shown: dict[str, Any]) -> PlaybookDefinition:
    """An imported revision from its JSON form (its definition, when the form has it)."""
    return PlaybookDefinition(
        name=shown["name"],
        revision=int(shown["revision"]),
        version=shown["version"],
        definition=dict(shown.get("definition") or {}),
        sha256=shown["sha256"],
        source=shown["source"],
        git_commit=shown["git_commit"],
        dirty=shown["dirty"],
        imported_by=shown["imported_by"],
        imported_at=datetime.fromisoformat(shown["imported_at"]),
    )


def run_from(shown: dict[str, Any]) -> PlaybookRun:
    """A playbook run from its JSON form."""
    return PlaybookRun(
        id=shown["id"],
        playbook=shown["playbook"],
        revision=int(shown["revision"]),
        version=shown["version"],
        definition={},
        parameters=dict(shown["parameters"]),
        started_by=shown["started_by"],
        state=PlaybookRunState(shown["state"]),
        started_at=datetime.fromisoformat(shown["started_at"]),
        finish_ts=_when(shown.get("finish_ts")),
        retry_of=shown.get("retry_of"),
        cancel_mode=CancelMode(shown["cancel"]) if shown.get("cancel") else None,
        cancel_requested_by=shown.get("cancel_requested_by"),
        message=shown.get("message"),
        plan_id=shown.get("plan_id"),
    )


def status_from(shown: dict[str, Any]) -> Status:
    """A run and its targets from ``GET /playbook-runs/{id}``'s answer."""
    run = run_from(shown)
    targets = [
        TargetRecord(
            run_id=run.id,
            name=t["name"],
            address=t["address"],
            vars={},
            state=TargetState(t["state"]),
            position=position,
            batch=t["batch"],
            added=bool(t["added"]),
            removed=bool(t["removed"]),
            attempts=int(t["attempts"]),
            start_seq=t["start_seq"],
            started_at=_when(t["started_at"]),
            finish_ts=_when(t["finish_ts"]),
            message=t["message"],
            results=list(t["results"]),
        )
        for position, t in enumerate(shown.get("targets", []))
    ]
    return run, targets


def remote_status(client: RemoteClient, run_id: str) -> Status:
    """The run as the server records it now."""
    return status_from(client.get(f"/playbook-runs/{quote(run_id, safe='')}"))


def remote_start(
    client: RemoteClient,
    name: str,
    *,
    version: str | None,
    revision: int | None,
    parameters: dict[str, Any],
    yes: bool,
    plan_id: str | None,
) -> Status:
    """``POST /playbooks/{name}/runs``: the run as recorded at its start."""
    body = {
        "version": version,
        "revision": revision,
        "parameters": parameters,
        "yes": yes,
        "plan": plan_id,
    }
    return status_from(client.post(f"/playbooks/{quote(name, safe='')}/runs", body))
