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

from runbook.config import WorkflowSettings, workflow_settings
from runbook.egress import config_table
from runbook.errors import ConfigError, UnknownWorkflowError
from runbook.model.repository import Repository, resolve_inside
from runbook.model.stencil import DateStencil, date_ranges_parameter
from runbook.model.workflow import WorkflowFile, WorkflowSpec, load_workflows
from runbook.model.yaml_files import read_failure, read_text


@dataclass(frozen=True)
class DefinedWorkflow:
    """A workflow with the file that defines it (relative to the repository)."""

    spec: WorkflowSpec
    source: str
    defined_in: WorkflowFile


def settings_for(repository: Repository) -> WorkflowSettings:
    """The workflow settings of ``repository`` (``[workflows]`` plus the environment)."""
    return workflow_settings(repository.root, config_table(repository.root, "workflows"))


def workflow_files(repository: Repository, settings: WorkflowSettings) -> list[Path]:
    """The workflows files, sorted: ``<inputs>/*.yml`` and ``*.yaml``, then a top-level one."""
    paths = sorted([*settings.inputs.glob("*.yml"), *settings.inputs.glob("*.yaml")])
    top = repository.root / "workflows.yml"
    if top.is_file() and top.parent.resolve() != settings.inputs:
        paths.append(top)
    return paths


def load_defined(repository: Repository, settings: WorkflowSettings) -> list[DefinedWorkflow]:
    """Every workflow of every workflows file; the first invalid file raises its SpecError."""
    found: list[DefinedWorkflow] = []
    for path in workflow_files(repository, settings):
        where = repository.relative(path)
        try:
            text = read_text(path)
        except (OSError, ValueError) as error:
            raise ConfigError(where, f"cannot read: {read_failure(error)}") from None
        defined = load_workflows(text, where)
        found.extend(DefinedWorkflow(spec, where, defined) for spec in defined.workflows.values())
    return found


def find_workflow(repository: Repository, settings: WorkflowSettings, name: str) -> DefinedWorkflow:
    """The workflow called ``name``; UnknownWorkflowError listing the known ones if none."""
    defined = load_defined(repository, settings)
    for workflow in defined:
        if workflow.spec.name == name:
            return workflow
    raise UnknownWorkflowError(name, sorted({w.spec.name for w in defined}))


def manual_dates(workflow: DefinedWorkflow, reference_date: dt.date) -> list[list[str]]:
    """``date_ranges`` for a run started by hand for ``reference_date``.

    The stencil is the one the file's available-dates sensor uses for this workflow (its
    first entry), else ``[0]``: the date itself.
    """
    sensor = workflow.defined_in.sensor
    entry = next(
        (e for e in (sensor.workflows if sensor else []) if e.workflow_name == workflow.spec.name),
        None,
    )
    stencil = entry.date_stencil if entry is not None and entry.date_stencil else DateStencil()
    return date_ranges_parameter(stencil, reference_date)


def task_path(repository: Repository, source: str, filename: str) -> Path:
    """A task's file (notebook or template), relative to its workflows file, contained."""
    folder = (repository.root / source).parent
    return resolve_inside(repository.root, filename, base=folder)
