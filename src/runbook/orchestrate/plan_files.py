"""Plan files under ``runs/plans/``: a killed ``runbook plan`` leaves nothing behind.

A plan is written in three steps (:func:`pending_plan_file`, then the caller commits the
record, then :func:`publish_plan_file`):

1. the notebook goes to ``runs/plans/.<plan>.ipynb.pending`` (created exclusively, synced);
2. the plan's record and its audit event are committed;
3. the pending file is renamed to ``<plan>.ipynb`` and the folder synced.

So ``<plan>.ipynb`` never exists without its record. A crash leaves at most a pending file
(or a ``.tmp`` of an interrupted write): the next ``runbook plan`` or ``runbook gc``
(:func:`sweep_plan_files`) removes a pending file that has no record, and finishes step 3
for one whose record exists and holds exactly its content. Planners hold a shared lock on
``.runbook/plan-files.lock`` from step 1 to 3 and the sweep takes it exclusively, so it never
touches a plan being written; a published plan file is never removed by either.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import AlreadyExistsError, NotebookFormatError, UnknownPlanError
from runbook.model.files import file_lock, sync_folder
from runbook.model.ids import ID_FORMATS, IdKind, plan_file
from runbook.model.notebook import read_notebook
from runbook.model.plan import canonical_json, content_sha256
from runbook.model.repository import Repository
from runbook.store.plans import get_plan

PENDING_SUFFIX: Final = ".pending"
_LOCK: Final = "plan-files.lock"
_PENDING: Final = re.compile(
    rf"\.({ID_FORMATS[IdKind.PLAN].pattern})\.ipynb{re.escape(PENDING_SUFFIX)}", re.ASCII
)


@contextlib.contextmanager
def writing_plan_files(repository: Repository) -> Iterator[None]:
    """Hold the planners' (shared) lock: no sweep runs until the block ends."""
    with file_lock(repository.state_dir / _LOCK, shared=True):
        yield


def pending_plan_file(repository: Repository, plan_id: str, text: str) -> Path:
    """Step 1: write ``text`` as the plan's pending file, synced; returns its path."""
    final = plan_file(repository, plan_id)
    pending = final.with_name(f".{final.name}{PENDING_SUFFIX}")
    pending.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except FileExistsError:
        raise AlreadyExistsError(repository.relative(pending)) from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    return pending


def publish_plan_file(pending: Path) -> Path:
    """Step 3: give the pending file its real name, durably; returns that name."""
    final = pending.with_name(pending.name[1 : -len(PENDING_SUFFIX)])
    os.replace(pending, final)
    sync_folder(final.parent)
    return final


def sweep_plan_files(
    sessions: sessionmaker[Session] | Session, repository: Repository, *, dry_run: bool = False
) -> list[str]:
    """Remove what killed planners left in ``runs/plans/``; finish publishing what was committed.

    Returns the files handled (relative to the repository). Does nothing when a planner is
    writing right now (the next sweep will), nor in a dry run beyond listing.
    """
    folder = repository.plans_dir
    if not folder.is_dir():
        return []
    handled: list[str] = []
    with file_lock(repository.state_dir / _LOCK, wait=False) as held:
        if not held:
            return []
        for entry in sorted(folder.iterdir()):
            match = _PENDING.fullmatch(entry.name)
            leftover_tmp = entry.name.startswith(".") and entry.name.endswith(".tmp")
            if not (match or leftover_tmp) or entry.is_symlink() or not entry.is_file():
                continue
            handled.append(repository.relative(entry))
            if dry_run:
                continue
            if match and _recorded(sessions, repository, match.group(1), entry):
                publish_plan_file(entry)
            else:
                entry.unlink(missing_ok=True)
    return handled


def _recorded(
    sessions: sessionmaker[Session] | Session, repository: Repository, plan_id: str, pending: Path
) -> bool:
    """Whether the plan is recorded with exactly this content and has no published file."""
    try:
        if isinstance(sessions, Session):
            plan = get_plan(sessions, plan_id)
        else:
            with sessions.begin() as session:
                plan = get_plan(session, plan_id)
        notebook = read_notebook(pending, repository.relative(pending))
    except (UnknownPlanError, NotebookFormatError):
        return False
    final = plan_file(repository, plan_id)
    return not os.path.lexists(final) and content_sha256(canonical_json(notebook)) == plan.sha256
