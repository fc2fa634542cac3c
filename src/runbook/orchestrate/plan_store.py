"""Plans live in the store; ``runs/plans/<plan>.ipynb`` is a cache of them.

A plan's notebook is recorded, its exact bytes, in the transaction that records the plan
(``runbook.store.plan_notebooks``), so any machine on the same store can review, verify and
run it. Reading a plan (:func:`read_plan_file`) judges, in this order:

1. the stored bytes, which are the truth: they must hash to the plan's sha256, or the plan
   is refused as modified (a tampered row) or unreadable, naming the store;
2. the local file, a cache of them: missing, it is written from the store (atomically) and
   the stored notebook is used, so a missing file is never "modified"; present, it must
   hash to the plan's sha256 too, or the plan is refused as modified, as before plans were
   stored: someone edited the cache, and what they meant to run is not what was reviewed.
   A cache that differs from the stored bytes only in JSON layout hashes the same (the sha256
   is of the canonical notebook) and is accepted; the stored notebook is what runs.

Plans recorded before the store kept notebooks (revision 0007) have no stored bytes: their
local file is all there is, and is read as it always was.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from sqlalchemy.orm import Session

from runbook.errors import (
    NotebookFormatError,
    PathEscapeError,
    PlanModifiedError,
    PlanUnreadableError,
)
from runbook.model.files import FileText, write_atomic
from runbook.model.ids import plan_file, plan_notebook
from runbook.model.notebook import parse_notebook
from runbook.model.plan import Plan, canonical_json, content_sha256
from runbook.model.repository import Repository
from runbook.orchestrate.plan_files import writing_plan_files
from runbook.store.plan_notebooks import plan_notebook_bytes
from runbook.typing import Notebook

#: How messages name a plan's stored notebook (in place of a file's path).
IN_THE_STORE: Final = "its notebook in the store"


@dataclass(frozen=True)
class PlanFile:
    """A plan's notebook as it is now and its sha256, or why it cannot be read.

    ``where`` is what was judged: the plan's file (relative path) or :data:`IN_THE_STORE`.
    """

    notebook: Notebook | None
    sha256: str | None
    problem: str | None = None
    where: str | None = None


def read_plan_file(
    session: Session,
    repository: Repository,
    plan: Plan,
    already_read: FileText | None = None,
    *,
    fill_cache: bool = True,
    notebook: bool = True,
) -> PlanFile:
    """The plan's notebook as it is now and its sha256; ``problem`` says why there is none.

    ``already_read``: the text of the plan's file, if the caller read it just before (the
    early kernel launch does); a text read from another path is ignored. ``fill_cache``:
    write a missing local file from the store (judging readiness for a listing does not).
    Without ``notebook``, the stored bytes' sha256 and problem are all that is wanted (a
    listing's readiness): they are parsed once per content, not on every listing.
    """
    stored = plan_notebook_bytes(session, plan.id)
    truth = None if stored is None else (_stored_plan(stored) if notebook else _judged(stored))
    if truth is not None and truth.sha256 != plan.sha256:
        return truth  # the store itself no longer holds what was planned: nothing else counts
    where = plan.notebook_path
    try:
        path = plan_notebook(repository, plan)
    except PathEscapeError as error:  # a record pointing elsewhere: unreadable
        return PlanFile(None, None, str(error), where)
    local = _local_text(path, already_read, where)
    if isinstance(local, PlanFile):
        return local
    if stored is None or truth is None:  # planned before the store kept notebooks
        return (
            PlanFile(None, None, "file not found", where) if local is None else _parse(local, where)
        )
    if local is None:
        if fill_cache:
            _write_cache(repository, plan, path, stored)
        return replace(truth, where=where)
    if local.encode("utf-8") == stored or _parse(local, where).sha256 == plan.sha256:
        # The cache holds the plan (perhaps laid out anew): the stored notebook is what runs.
        return replace(truth, where=where)
    return _parse(local, where)


#: Stored bytes (by their sha256) → the content sha256 and problem parsing them gave: bytes
#: parse the same way every time, so a listing judges each plan's bytes once per process.
_JUDGED: dict[str, tuple[str | None, str | None]] = {}
_JUDGED_MOST = 4096


def _judged(stored: bytes) -> PlanFile:
    key = hashlib.sha256(stored).hexdigest()
    known = _JUDGED.get(key)
    if known is None:
        parsed = _stored_plan(stored)
        known = (parsed.sha256, parsed.problem)
        if len(_JUDGED) >= _JUDGED_MOST:
            _JUDGED.clear()
        _JUDGED[key] = known
    return PlanFile(None, known[0], known[1], IN_THE_STORE)


def _stored_plan(stored: bytes) -> PlanFile:
    try:
        text = stored.decode("utf-8")
    except UnicodeDecodeError as error:
        return PlanFile(None, None, f"not UTF-8 text: {error}", IN_THE_STORE)
    return _parse(text, IN_THE_STORE)


def _parse(text: str, where: str) -> PlanFile:
    try:
        notebook = parse_notebook(text, where)
    except NotebookFormatError as error:
        return PlanFile(None, None, error.reason, where)
    return PlanFile(notebook, content_sha256(canonical_json(notebook)), None, where)


def _local_text(path: Path, already_read: FileText | None, where: str) -> str | PlanFile | None:
    """The local file's text; None when there is none; a PlanFile saying why it is unreadable."""
    if already_read is not None and already_read.path == path:
        return already_read.text
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        return PlanFile(None, None, str(error), where)


def _write_cache(repository: Repository, plan: Plan, path: Path, stored: bytes) -> None:
    """Write the plan's local file from the store, as the planner wrote it.

    Only at the plan's own name (``runs/plans/<plan>.ipynb``): a record naming another file
    is read from the store, never written elsewhere. Best effort: the verified notebook is
    in hand and is what runs, so a folder that cannot be written does not stop a run.
    """
    try:
        if path != plan_file(repository, plan.id):
            return
        # The planners' lock, so that a sweep of leftovers never removes our temporary file.
        with writing_plan_files(repository):
            write_atomic(path, stored.decode("utf-8"))
    except (OSError, PathEscapeError):
        return


def intact_plan_file(
    session: Session, repository: Repository, plan: Plan, already_read: FileText | None = None
) -> PlanFile:
    """The plan's notebook if it holds exactly what was planned; else the PolicyError saying
    what is wrong: it cannot be read (which file, or the store, and why), or it changed."""
    file = read_plan_file(session, repository, plan, already_read)
    where = file.where or plan.notebook_path
    if file.sha256 is None:
        raise PlanUnreadableError(plan.id, where, file.problem or "unknown")
    if file.sha256 != plan.sha256:
        raise PlanModifiedError(plan.id, where, plan.sha256, file.sha256)
    return file


def intact_plan_notebook(session: Session, repository: Repository, plan: Plan) -> Notebook:
    """The plan's notebook, verified as :func:`intact_plan_file` verifies it (to show it).

    A record naming a file outside ``runs/plans/`` raises PathEscapeError (a usage error)
    before anything is read: what is shown never comes from elsewhere.
    """
    plan_notebook(repository, plan)
    notebook = intact_plan_file(session, repository, plan).notebook
    assert notebook is not None  # noqa: S101  (a sha256 is only ever set with its notebook)
    return notebook
