"""A run's artifacts (executed notebook, log, reports) shared through the artifact store.

The service copies a run's folder to the store configured by ``[service] artifacts``
(:mod:`runbook.store.artifacts`) when the run's process ends, so that any ``runbook serve``
on the same store, or ``runbook export``, serves it, whichever checkout executed it.
Reading tries the store first, then this repository's own ``runs/`` folder (a run executed
here by ``runbook run``).

Object-store credentials are the standard ``AWS_*`` variables, taken from what the command
received (:func:`runbook.credentials.environment`): they are in no process's environment
and never in a kernel's (``runbook.credentials`` lists them), and never in a message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from runbook.credentials import environment
from runbook.errors import ConfigError, ForbiddenError, UnknownArtifactError
from runbook.model.ids import run_folder, run_notebook
from runbook.model.notebook import parse_notebook
from runbook.model.redaction import hides_private, plan_tags
from runbook.model.repository import Repository
from runbook.model.roles import Permission, Principal
from runbook.model.run import Run
from runbook.orchestrate.live_access import authorize_run
from runbook.orchestrate.run_history import current_run
from runbook.store.artifacts import ArtifactStore, FsspecArtifacts, LocalArtifacts
from runbook.store.plans import get_plan
from runbook.typing import Notebook

log = logging.getLogger(__name__)

LOG_NAME: Final = "log.jsonl"
#: The report formats served from an executed notebook (PDF needs a browser: `export`).
REPORT_FORMATS: Final = ("html", "md")
_LOCAL_SCHEMES: Final = ("", "file")


def artifact_store(repository: Repository) -> ArtifactStore:
    """The store ``[service] artifacts`` names (default: the repository's ``runs/``)."""
    settings = repository.config.service(repository.root)
    where = settings.artifacts
    scheme = where.split("://", 1)[0] if "://" in where else ""
    if not where:
        return LocalArtifacts(repository.runs_dir)
    if scheme in _LOCAL_SCHEMES:
        folder = Path(where.removeprefix("file://")).expanduser()
        return LocalArtifacts(folder if folder.is_absolute() else repository.root / folder)
    options: dict[str, Any] = {}
    if scheme in {"s3", "s3a"}:
        options = _s3_options(settings.artifacts_endpoint, settings.artifacts_region)
    try:
        return FsspecArtifacts(where, options)
    except (ImportError, ValueError) as error:  # an unknown scheme, its package missing
        raise ConfigError(
            f"{repository.root / 'runbook.toml'}: service.artifacts", f"{where!r}: {error}"
        ) from None


def _s3_options(endpoint: str, region: str) -> dict[str, Any]:
    env = environment()
    options: dict[str, Any] = {}
    for option, variable in (
        ("key", "AWS_ACCESS_KEY_ID"),
        ("secret", "AWS_SECRET_ACCESS_KEY"),
        ("token", "AWS_SESSION_TOKEN"),
    ):
        if env.get(variable):
            options[option] = env[variable]
    client: dict[str, str] = {}
    if endpoint:
        client["endpoint_url"] = endpoint
    if region or env.get("AWS_DEFAULT_REGION"):
        client["region_name"] = region or env["AWS_DEFAULT_REGION"]
    if client:
        options["client_kwargs"] = client
    return options


def _is_runs_folder(store: ArtifactStore, repository: Repository) -> bool:
    return isinstance(store, LocalArtifacts) and store.folder.resolve() == (
        repository.runs_dir.resolve()
    )


def publish_run(store: ArtifactStore, repository: Repository, run_id: str) -> list[str]:
    """Copy the files of ``runs/<run>/`` to ``store``; returns the keys written.

    Never raises: a run that ended is not undone by a store that cannot take its files;
    what failed is logged (the location, never a credential) and the files stay local.
    """
    if _is_runs_folder(store, repository):
        return []
    local = LocalArtifacts(repository.runs_dir)
    folder = run_folder(repository, run_id).name
    written: list[str] = []
    for key in local.list(folder):
        data = local.get(key)
        if data is None:
            continue
        try:
            store.put(key, data)
        except Exception as error:  # any backend's failure: one line in the server's log
            log.warning("artifacts: cannot store %s in %s: %s", key, store.location, error)
            continue
        written.append(key)
    return written


def publish_runs(
    store: ArtifactStore | None, repository: Repository, run_ids: Iterable[str | None]
) -> None:
    """:func:`publish_run` for each run (of a workflow's tasks, a playbook's steps)."""
    if store is None:
        return
    for run_id in dict.fromkeys(r for r in run_ids if r):
        publish_run(store, repository, run_id)


def artifact_bytes(store: ArtifactStore, repository: Repository, run: Run, name: str) -> bytes:
    """The run's file ``name``: from the store, else from this repository's run folder."""
    key = f"{run_folder(repository, run.id).name}/{name}"
    data = store.get(key)
    if data is None and not _is_runs_folder(store, repository):
        data = LocalArtifacts(repository.runs_dir).get(key)
    if data is None:
        raise UnknownArtifactError(run.id, name)
    return data


def notebook_name(repository: Repository, run: Run) -> str:
    """The file name of the run's executed notebook (``<plan>.ipynb``); PathEscapeError when
    its record points outside ``runs/<run>/`` (a tampered record is refused, not trimmed)."""
    return run_notebook(repository, run).name


def stored_notebook(store: ArtifactStore, repository: Repository, run: Run) -> Notebook:
    """The run's executed notebook, parsed."""
    data = artifact_bytes(store, repository, run, notebook_name(repository, run))
    return parse_notebook(data.decode("utf-8", errors="replace"), run.notebook_path)


def readable_run(
    session: Session, repository: Repository, run_id: str, principal: Principal
) -> Run:
    """Run ``run_id`` when ``principal`` may read its outputs.

    Its artifacts are its outputs: a principal narrowed to tags reads those of its
    runbooks only, and an anonymous one none of a private runbook's.
    """
    run = current_run(session, repository, run_id)
    authorize_run(session, principal, Permission.VIEW, run.id)
    if hides_private(principal, plan_tags(get_plan(session, run.plan_id))):
        raise ForbiddenError(principal.user, principal.role.value, "read a private run's outputs")
    return run


def served_report(
    session: Session, repository: Repository, store: ArtifactStore, run: Run, fmt: str
) -> str:
    """The run's report in ``fmt`` (html or md), rendered here from its stored notebook.

    Rendered on each request rather than served as stored: whatever a bucket holds, what
    is served went through the report's sanitizer in this process.
    """
    from runbook.engine.report import render_html, render_markdown  # nbconvert: when asked
    from runbook.orchestrate.report_records import report_record
    from runbook.store.runs import list_cell_events

    notebook = stored_notebook(store, repository, run)
    events = list_cell_events(session, run.id)
    record = report_record(session, repository, run)
    if fmt == "md":
        return render_markdown(notebook, run=run, events=events, record=record)
    return render_html(notebook, run=run, events=events, record=record)
