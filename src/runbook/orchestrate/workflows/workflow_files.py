"""Finding a repository's workflow definitions: the ``*.yml`` files of the inputs folder.

The inputs folder is ``workflows/`` unless ``[workflows] inputs`` or ``RUNBOOK_INPUTS_DIR``
(``AUTOFLOW_INPUTS_DIR``) says otherwise; a ``workflows.yml`` at the top of the repository
is read too. A task's ``filename`` and ``output.template`` are relative to the folder of the
file that defines it, as in AutoFlow's inputs folder.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from runbook.errors import (
    ConfigError,
    PathEscapeError,
    RunbookError,
    SpecError,
    UnknownWorkflowError,
)
from runbook.model.files import read_failure, read_text
from runbook.model.repository import Repository, resolve_inside
from runbook.model.settings_sections import WorkflowSettings
from runbook.model.stencil import DateStencil, date_ranges_parameter, parse_stencil
from runbook.model.workflows.workflow import (
    FileCheck,
    WorkflowFile,
    WorkflowSpec,
    declared_names,
    load_workflows,
)


@dataclass(frozen=True)
class DefinedWorkflow:
    """A workflow with the file that defines it (relative to the repository)."""

    spec: WorkflowSpec
    source: str
    defined_in: WorkflowFile


def settings_for(repository: Repository) -> WorkflowSettings:
    """The workflow settings of ``repository`` (``[workflows]`` plus the environment)."""
    return repository.config.workflows(repository.root)


def workflow_files(repository: Repository, settings: WorkflowSettings) -> list[Path]:
    """The workflows files, sorted: ``<inputs>/*.yml`` and ``*.yaml``, then a top-level one."""
    paths = sorted([*settings.inputs.glob("*.yml"), *settings.inputs.glob("*.yaml")])
    top = repository.root / "workflows.yml"
    if top.is_file() and top.parent.resolve() != settings.inputs:
        paths.append(top)
    return paths


@dataclass(frozen=True)
class InvalidFile:
    """A workflows file that could not be loaded: its error, and the names it declares."""

    source: str
    error: RunbookError
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadedWorkflows:
    """Every workflow of the valid files, and each invalid file with its error."""

    defined: list[DefinedWorkflow]
    invalid: list[InvalidFile]


def load_defined(repository: Repository, settings: WorkflowSettings) -> LoadedWorkflows:
    """Every workflow of every workflows file, each file loaded on its own.

    One invalid file must not stop the workflows of the others: it is set aside in
    ``invalid`` with its error, for the caller to name.
    """
    found: list[DefinedWorkflow] = []
    invalid: list[InvalidFile] = []
    for path in workflow_files(repository, settings):
        where = repository.relative(path)
        try:
            text = read_text(path)
        except (OSError, ValueError) as error:
            invalid.append(
                InvalidFile(where, ConfigError(where, f"cannot read: {read_failure(error)}"))
            )
            continue
        try:
            defined = load_workflows(text, where, file_check(path.parent, repository.root))
        except SpecError as error:
            invalid.append(InvalidFile(where, error, tuple(declared_names(text))))
            continue
        found.extend(DefinedWorkflow(spec, where, defined) for spec in defined.workflows.values())
    return LoadedWorkflows(found, invalid)


def find_workflow(repository: Repository, settings: WorkflowSettings, name: str) -> DefinedWorkflow:
    """The workflow called ``name``.

    Raises the file's error when ``name`` is declared in an invalid file, else
    UnknownWorkflowError listing the known workflows (and naming the invalid files).
    """
    loaded = load_defined(repository, settings)
    for workflow in loaded.defined:
        if workflow.spec.name == name:
            return workflow
    for bad in loaded.invalid:
        if name in bad.names and isinstance(bad.error, SpecError):
            reason = f"{bad.error.reason} (invalid file: workflow {name} cannot run)"
            raise SpecError(bad.error.where, reason)
    known = sorted({w.spec.name for w in loaded.defined})
    raise UnknownWorkflowError(name, known, [bad.source for bad in loaded.invalid])


def manual_dates(workflow: DefinedWorkflow, reference_date: dt.date) -> list[list[str]]:
    """``date_ranges`` for a run started by hand for ``reference_date``.

    The stencil is the one the file's available-dates sensor uses for this workflow (its
    first entry), else that of the workflow's first sensor trigger which has one (as
    AutoFlow's earlier list form gives each parameter set), else ``[0]``: the date itself.
    """
    sensor = workflow.defined_in.sensor
    entry = next(
        (e for e in (sensor.workflows if sensor else []) if e.workflow_name == workflow.spec.name),
        None,
    )
    if entry is not None and entry.date_stencil:
        return date_ranges_parameter(entry.date_stencil, reference_date)
    raw = next(
        (
            t.config["date_stencil"]
            for t in workflow.spec.triggers
            if t.kind == "sensor" and t.config.get("date_stencil")
        ),
        None,
    )
    stencil = parse_stencil(raw, "date_stencil") if raw else DateStencil()
    return date_ranges_parameter(stencil, reference_date)


def task_path(repository: Repository, source: str, filename: str) -> Path:
    """A task's file (notebook or template), relative to its workflows file, contained."""
    folder = (repository.root / source).parent
    return resolve_inside(repository.root, filename, base=folder)


def file_check(folder: Path, root: Path | None = None) -> FileCheck:
    """What a workflows file in ``folder`` may name: an existing file there (or below).

    With ``root`` (the repository), the file must also resolve inside it, through the
    repository's resolver: a link out of the repository is refused as a path outside.
    The answer is the problem, as the end of a sentence (``not found in workflows/``).
    """
    shown = folder.relative_to(root).as_posix() if root and folder.is_relative_to(root) else None
    place = f"{shown}/" if shown not in (None, ".") else "the folder of the workflows file"

    def check(name: str) -> str | None:
        try:
            path = resolve_inside(root, name, base=folder) if root else folder / name
        except PathEscapeError as error:
            return error.reason
        if not path.is_file():
            return f"not found in {place}" if not path.exists() else f"is not a file in {place}"
        return None

    return check
