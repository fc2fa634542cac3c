"""Reading runs: what ``runbook runs``, ``log`` and ``export`` (and the API to come) show.

Every read sweeps first, so a run whose process died shows as ``interrupted`` whoever asks;
no caller has to remember to. Light on purpose: listing runs imports this, not the engine.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from runbook.errors import PathEscapeError
from runbook.model.dry_run import AnnouncedCommand, announced_commands
from runbook.model.repository import Repository
from runbook.model.run import CellEvent, Run, RunState
from runbook.orchestrate.sweeping import sweep
from runbook.store.runs import get_run, list_cell_events, list_runs


def find_runs(
    session: Session,
    repository: Repository,
    *,
    plan_id: str | None = None,
    state: RunState | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Run]:
    """Runs, newest first, optionally of one plan or in one state (dead ones swept first),
    after skipping ``offset``."""
    sweep(session, repository)
    return list_runs(session, plan_id=plan_id, state=state, limit=limit, offset=offset)


def current_run(session: Session, repository: Repository, run_id: str) -> Run:
    """Run ``run_id`` as recorded now (swept first); UnknownRunError if there is none."""
    sweep(session, repository)
    return get_run(session, run_id)


def show_run(session: Session, repository: Repository, run_id: str) -> tuple[Run, list[CellEvent]]:
    """Run ``run_id`` (swept first) and its cell events, in order."""
    run = current_run(session, repository, run_id)
    return run, list_cell_events(session, run.id)


def announced_by_run(repository: Repository, run: Run) -> list[AnnouncedCommand]:
    """The commands a dry run's cells announced, read from its executed notebook (empty
    when the notebook cannot be read: the run's record and log still say what happened)."""
    import nbformat  # here: listing runs reads no notebook

    try:
        path = repository.resolve(run.notebook_path)
        notebook = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    except (OSError, ValueError, PathEscapeError):
        return []
    return announced_commands(notebook)
