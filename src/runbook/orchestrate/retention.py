"""``runbook gc``: remove finished runs older than their time to live, records and files.

Every folder is named by an id read from the store, so each one is built by
:func:`runbook.model.ids.id_path`: an id that is not in the format Runbook generates (say
``../../victim``), or a folder that is a symlink, is skipped and reported, its record kept.

Order, so that a crash at any point leaves nothing orphaned:

1. each doomed folder (``runs/<run>/``, ``<outputs>/<workflow run>/``, ``runs/<playbook
   run>/``) is renamed into ``.trash/`` beside it (one atomic rename, synced);
2. the records are deleted in one transaction with the audit event listing them;
3. the trash entries are removed.

A crash after 1 leaves entries in ``.trash/`` whose records still exist: the next gc puts
them back (and then judges them again). A crash after 2 leaves entries whose records are
gone: the next gc removes them. Only one gc works on a repository at a time (a lock in
``.runbook/``), so one never undoes another's step 1. A folder that cannot be moved keeps
its record; one that cannot be removed is reported and retried by the next gc.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import PathEscapeError
from runbook.model.audit import EventKind
from runbook.model.files import file_lock, sync_folder
from runbook.model.ids import IdKind, id_path, kind_of
from runbook.model.repository import Repository
from runbook.model.retention import RETENTION_KINDS
from runbook.model.settings_sections import WorkflowSettings
from runbook.orchestrate.audit_anchor import anchor_quietly
from runbook.orchestrate.idempotency import forget_old_keys
from runbook.orchestrate.plan_files import sweep_plan_files
from runbook.store.audit import append_event
from runbook.store.retention import delete_records, existing_ids, expired_ids

#: Where doomed folders wait, beside the folders they come from, until their records are gone.
TRASH: Final = ".trash"
_ID_KINDS: Final = {
    "runs": IdKind.RUN,
    "workflow_runs": IdKind.WORKFLOW_RUN,
    "playbook_runs": IdKind.PLAYBOOK_RUN,
}
_STORE_KINDS: Final = {id_kind: kind for kind, id_kind in _ID_KINDS.items()}


@dataclass(frozen=True)
class Skipped:
    """A record gc would have removed but whose id it refuses to build a path from."""

    kind: str
    id: str
    reason: str


@dataclass
class GcReport:
    """What a collection removed (or, in a dry run, would remove)."""

    removed: dict[str, list[str]] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    warnings: list[str] = field(default_factory=list)
    #: Expired records left alone because their id is not in its format (never followed).
    skipped: list[Skipped] = field(default_factory=list)
    #: Files a killed ``runbook plan`` left under ``runs/plans/`` (removed, or completed).
    plan_files: list[str] = field(default_factory=list)
    #: Idempotency keys of the service past their day (:mod:`runbook.orchestrate.idempotency`).
    idempotency_keys: int = 0

    @property
    def total(self) -> int:
        """How many records in all."""
        return sum(len(ids) for ids in self.removed.values())

    def to_json(self, *, dry_run: bool) -> dict[str, object]:
        """The JSON form, as ``gc --json`` prints it and ``POST /gc`` answers."""
        return {
            "dry_run": dry_run,
            "removed": self.removed,
            "folders": self.folders,
            "bytes_freed": self.bytes_freed,
            "warnings": self.warnings,
            "skipped": [{"kind": s.kind, "id": s.id, "reason": s.reason} for s in self.skipped],
            "plan_files": self.plan_files,
            "idempotency_keys": self.idempotency_keys,
        }


#: kind → [(id, its folder)] of the records to remove.
_Doomed = dict[str, list[tuple[str, Path]]]


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
    report = GcReport()
    with file_lock(repository.state_dir / "gc.lock"):
        if not dry_run:
            _finish_trash(sessions, repository, settings, report)
        doomed = _expired(sessions, repository, settings, moment, report)
        if dry_run:
            for kind, entries in doomed.items():
                report.removed[kind] = [record_id for record_id, _ in entries]
                for _, folder in entries:
                    _count(report, repository, folder, folder)
        elif doomed:
            _remove_expired(sessions, repository, doomed, report, actor=actor)
            # The retention.gc event is the checkpoint: it names what went, so `audit verify`
            # does not take the missing records for deletions; anchoring it keeps it from
            # being cut off.
            report.warnings += anchor_quietly(sessions, repository, reason="runbook gc")
    report.plan_files = sweep_plan_files(sessions, repository, dry_run=dry_run)
    if not dry_run:
        with sessions.begin() as session:
            report.idempotency_keys = forget_old_keys(session, moment)
    return report


def _base(kind: str, repository: Repository, settings: WorkflowSettings) -> Path:
    return settings.outputs if kind == "workflow_runs" else repository.runs_dir


def _expired(
    sessions: sessionmaker[Session],
    repository: Repository,
    settings: WorkflowSettings,
    moment: datetime,
    report: GcReport,
) -> _Doomed:
    policy = repository.config.retention
    doomed: _Doomed = {}
    with sessions.begin() as session:
        for kind in RETENTION_KINDS:
            ttl = policy.ttl(kind)
            if ttl is None:
                continue
            for record_id in expired_ids(session, kind, moment - ttl):
                try:
                    folder = id_path(_base(kind, repository, settings), _ID_KINDS[kind], record_id)
                except PathEscapeError as error:
                    report.skipped.append(Skipped(kind, record_id, str(error)))
                    continue
                doomed.setdefault(kind, []).append((record_id, folder))
    return doomed


def _remove_expired(
    sessions: sessionmaker[Session],
    repository: Repository,
    doomed: _Doomed,
    report: GcReport,
    *,
    actor: str,
) -> None:
    moved: list[tuple[Path, Path]] = []  # (folder, its place in the trash)
    removed: dict[str, list[str]] = {}
    try:
        for kind, entries in doomed.items():
            for record_id, folder in entries:
                if _to_trash(repository, folder, moved, report):
                    removed.setdefault(kind, []).append(record_id)
        for trash in {entry.parent for _, entry in moved}:
            sync_folder(trash)
        if not removed:
            return
        with sessions.begin() as session:
            for kind, ids in removed.items():
                delete_records(session, kind, ids)
            append_event(
                session,
                kind=EventKind.RETENTION_GC,
                actor=actor,
                subject="retention",
                payload={
                    "removed": removed,
                    "ttl": {
                        k: str(repository.config.retention.ttl(k))
                        for k in RETENTION_KINDS
                        if repository.config.retention.ttl(k)
                    },
                },
            )
    except BaseException:
        for folder, entry in reversed(moved):
            with contextlib.suppress(OSError):  # else the next gc puts it back
                os.rename(entry, folder)  # the records stay: so do their folders
        raise
    report.removed = removed
    for folder, entry in moved:
        _count(report, repository, folder, entry)
        _discard(report, repository, entry)


def _to_trash(
    repository: Repository, folder: Path, moved: list[tuple[Path, Path]], report: GcReport
) -> bool:
    """Move ``folder`` (if any) into its trash; False, with a warning, when it cannot be."""
    if not os.path.lexists(folder):
        return True
    entry = folder.parent / TRASH / folder.name
    try:
        entry.parent.mkdir(exist_ok=True)
        if os.path.lexists(entry):
            raise FileExistsError(f"{repository.relative(entry.parent)} already holds one")
        os.rename(folder, entry)
    except OSError as error:
        report.warnings.append(f"{repository.relative(folder)}: not removed: {error}")
        return False
    moved.append((folder, entry))
    return True


def _finish_trash(
    sessions: sessionmaker[Session],
    repository: Repository,
    settings: WorkflowSettings,
    report: GcReport,
) -> None:
    """Finish what a gc that crashed left in the trash: restore, or remove, each entry."""
    for base in {repository.runs_dir, settings.outputs}:
        trash = base / TRASH
        entries = sorted(trash.iterdir()) if trash.is_dir() else []
        by_kind: dict[str, list[Path]] = {}
        for entry in entries:
            id_kind = kind_of(entry.name)
            if id_kind is not None:
                by_kind.setdefault(_STORE_KINDS[id_kind], []).append(entry)
            else:
                report.warnings.append(f"{repository.relative(entry)}: not an id; left alone")
        for store_kind, found in by_kind.items():
            with sessions.begin() as session:
                kept = existing_ids(session, store_kind, [e.name for e in found])
            for entry in found:
                if entry.name in kept:
                    _restore(report, repository, entry, base / entry.name)
                else:
                    _count(report, repository, base / entry.name, entry)
                    _discard(report, repository, entry)


def _restore(report: GcReport, repository: Repository, entry: Path, folder: Path) -> None:
    try:
        if os.path.lexists(folder):
            raise FileExistsError("a folder of that name is back")
        os.rename(entry, folder)
    except OSError as error:
        report.warnings.append(f"{repository.relative(entry)}: not restored: {error}")


def _count(report: GcReport, repository: Repository, folder: Path, where: Path) -> None:
    """Count ``where`` (the folder, or its trash entry) as ``folder`` freed."""
    if where.is_dir() and not where.is_symlink():
        report.folders.append(repository.relative(folder))
        report.bytes_freed += _size(where)


def _discard(report: GcReport, repository: Repository, entry: Path) -> None:
    """Remove a trash entry without following any link in it."""
    try:
        if entry.is_symlink() or not entry.is_dir():
            entry.unlink()
        else:
            shutil.rmtree(entry)
    except OSError as error:
        report.warnings.append(f"{repository.relative(entry)}: not removed: {error}")


def _size(folder: Path) -> int:
    total = 0
    for parent, _, files in os.walk(folder):  # never follows links
        for name in files:
            path = Path(parent, name)
            if not path.is_symlink():
                total += path.stat().st_size
    return total
