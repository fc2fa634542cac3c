"""Argument types that complete runbook names, plan ids, run ids and template names in the shell.

Completion imports the store only when the shell asks (``lookup`` names the function), so
that defining the commands stays light.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import click
from click.shell_completion import CompletionItem

from runbook.errors import RunbookError

if TYPE_CHECKING:
    from runbook.model.repository import Repository


def _repository(ctx: click.Context) -> Repository | None:
    # Completion runs no callbacks: --repo is read from the parsed parameters.
    from runbook.model.repository import find_repository

    chosen = (ctx.find_root().params or {}).get("repo")
    try:
        return find_repository(Path(chosen) if chosen else Path.cwd())
    except RunbookError:
        return None


class RunbookName(click.ParamType[str, str]):
    """A runbook, by short name or path; completes the repository's runbooks."""

    name = "RUNBOOK"

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        repo = _repository(ctx)
        if repo is None:
            return []
        names = [repo.runbook_name(p) for p in repo.runbook_paths()]
        return [CompletionItem(n) for n in names if n.startswith(incomplete)]


class TemplateName(click.ParamType[str, str]):
    """A template name; completes built-in and repository templates."""

    name = "TEMPLATE"

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        from runbook.model.templates import list_templates

        repo = _repository(ctx)
        folder = repo.templates_dir if repo is not None else None
        return [
            CompletionItem(t.name, help=t.description)
            for t in list_templates(folder)
            if t.name.startswith(incomplete)
        ]


class StoredValue(click.ParamType[str, str]):
    """A value recorded in the store; completes the recorded ones.

    A subclass names its ``lookup``: ``"module:function"``, a function of a session and a
    prefix returning the values that start with it.
    """

    lookup: ClassVar[str]

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        """The recorded values starting with ``incomplete``; none on any error."""
        from runbook.cli.context import store_session

        repo = _repository(ctx)
        if repo is None:
            return []
        module, _, function = self.lookup.partition(":")
        values = getattr(import_module(module), function)
        try:
            with store_session(repo) as session:
                return [CompletionItem(value) for value in values(session, incomplete)]
        except RunbookError:
            return []


class PlanId(StoredValue):
    """A plan id; completes ids recorded in the store."""

    name = "PLAN"
    lookup = "runbook.store.plans:plan_ids"


class RunId(StoredValue):
    """A run id; completes ids recorded in the store."""

    name = "RUN"
    lookup = "runbook.store.runs:run_ids"


class WorkflowRunId(StoredValue):
    """A workflow run id; completes ids recorded in the store."""

    name = "RUN"
    lookup = "runbook.store.workflows.workflow_runs:workflow_run_ids"


class PlaybookName(StoredValue):
    """An imported playbook's name; completes names recorded in the store."""

    name = "NAME"
    lookup = "runbook.store.playbooks.playbook_definitions:playbook_names"


class PlaybookRunId(StoredValue):
    """A playbook run id; completes ids recorded in the store."""

    name = "RUN"
    lookup = "runbook.store.playbooks.playbook_runs:playbook_run_ids"
