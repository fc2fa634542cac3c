"""Argument types that complete runbook names, plan ids and template names in the shell."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem

from runbook.errors import RunbookError


def _repository(ctx: click.Context) -> object | None:
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
        from runbook.model.repository import Repository

        repo = _repository(ctx)
        if not isinstance(repo, Repository):
            return []
        names = [repo.runbook_name(p) for p in repo.runbook_paths()]
        return [CompletionItem(n) for n in names if n.startswith(incomplete)]


class PlanId(click.ParamType[str, str]):
    """A plan id; completes ids recorded in the store."""

    name = "PLAN"

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        from runbook.store.plans import plan_ids

        return _complete_from_store(ctx, incomplete, plan_ids)


class TemplateName(click.ParamType[str, str]):
    """A template name; completes built-in and repository templates."""

    name = "TEMPLATE"

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        from runbook.model.repository import Repository
        from runbook.model.templates import list_templates

        repo = _repository(ctx)
        folder = repo.templates_dir if isinstance(repo, Repository) else None
        return [
            CompletionItem(t.name, help=t.description)
            for t in list_templates(folder)
            if t.name.startswith(incomplete)
        ]


class RunId(click.ParamType[str, str]):
    """A run id; completes ids recorded in the store."""

    name = "RUN"

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        from runbook.store.runs import run_ids

        return _complete_from_store(ctx, incomplete, run_ids)


class WorkflowRunId(click.ParamType[str, str]):
    """A workflow run id; completes ids recorded in the store."""

    name = "RUN"

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        from runbook.store.workflows.workflow_runs import workflow_run_ids

        return _complete_from_store(ctx, incomplete, workflow_run_ids)


def _complete_from_store(
    ctx: click.Context, incomplete: str, ids: Callable[[Any, str], list[str]]
) -> list[CompletionItem]:
    """Ids from the repository's store that start with ``incomplete``; none on any error."""
    from runbook.cli.context import store_session
    from runbook.model.repository import Repository

    repo = _repository(ctx)
    if not isinstance(repo, Repository):
        return []
    try:
        with store_session(repo) as session:
            return [CompletionItem(i) for i in ids(session, incomplete)]
    except RunbookError:
        return []
