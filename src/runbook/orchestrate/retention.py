"""``runbook gc``: remove finished runs older than their time to live, records and files.

The records go first, in one transaction with an audit event listing them; then their
folders under ``runs/`` (``runs/<run>/`` for a run, ``<outputs>/<workflow run>/`` for a
workflow run). A folder that cannot be removed is reported, never fatal.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from runbook.config import WorkflowSettings
from runbook.model.audit import EventKind
from runbook.model.repository import Repository
from runbook.model.retention import RETENTION_KINDS
from runbook.orchestrate.audit_anchor import anchor_quietly
from runbook.store.audit import append_event
from runbook.store.retention import delete_records, expired_ids


@dataclass
class GcReport:
    """What a collection removed (or, in a dry run, would remove)."""

    removed: dict[str, list[str]] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """How many records in all."""
        return sum(len(ids) for ids in self.removed.values())


def collect_garbage(
    sessions: sessionmaker[Session],
    repository: Repository,
    settings: WorkflowSettings,
    *,
    actor: str,
    now: datetime | None = None,
    dry_run: bool = False,
) -> GcReport:
    """Delete what is past its TTL (``[retention]``); a dry run only reports it."""
    moment = now or datetime.now(UTC)
    policy = repository.config.retention
    report = GcReport()
    with sessions.begin() as session:
        for kind in RETENTION_KINDS:
            ttl = policy.ttl(kind)
            if ttl is None:
                continue
            ids = expired_ids(session, kind, moment - ttl)
            if ids:
                report.removed[kind] = ids
        if dry_run or not report.total:
            _measure(report, repository, settings, delete=False)
            return report
        for kind, ids in report.removed.items():
            delete_records(session, kind, ids)
        append_event(
            session,
            kind=EventKind.RETENTION_GC,
            actor=actor,
            subject="retention",
            payload={
                "removed": report.removed,
                "ttl": {k: str(policy.ttl(k)) for k in RETENTION_KINDS if policy.ttl(k)},
            },
        )
    # The retention.gc event is the checkpoint: it names what went, so `audit verify` does
    # not take the missing records for deletions; anchoring it keeps it from being cut off.
    report.warnings += anchor_quietly(sessions, repository, reason="runbook gc")
    _measure(report, repository, settings, delete=True)
    return report


def _measure(
    report: GcReport, repository: Repository, settings: WorkflowSettings, *, delete: bool
) -> None:
    folders = [repository.runs_dir / run_id for run_id in report.removed.get("runs", [])]
    folders += [settings.outputs / run_id for run_id in report.removed.get("workflow_runs", [])]
    folders += [repository.runs_dir / run_id for run_id in report.removed.get("playbook_runs", [])]
    for folder in folders:
        if not folder.is_dir():
            continue
        size = _size(folder)
        if delete:
            try:
                shutil.rmtree(folder)
            except OSError as error:
                report.warnings.append(f"{repository.relative(folder)}: not removed: {error}")
                continue
        report.folders.append(repository.relative(folder))
        report.bytes_freed += size


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
