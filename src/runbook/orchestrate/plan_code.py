"""The repository code a plan can import: recorded when planning, checked before review and run.

See :mod:`runbook.model.modules` for what counts. The manifest lives in the plan notebook's
``metadata.runbook.plan.modules``, inside the content the plan's sha256 (and so every
review) is bound to; a plan recorded before manifests existed has an empty one, so any
module in the repository shows as added and the plan must be planned again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from runbook.model.modules import Manifest, manifest_changes, module_manifest
from runbook.model.plan import Plan
from runbook.model.playbooks.playbook_plan import playbook_plan_of, step_changes
from runbook.model.repository import Repository
from runbook.typing import Notebook


@dataclass(frozen=True)
class ModuleStatus:
    """One importable file: its recorded and current sha256 (None when absent) and a verdict."""

    path: str
    recorded: str | None
    current: str | None

    @property
    def state(self) -> str:
        """``unchanged``, ``changed``, ``added`` (since planning) or ``removed``."""
        if self.recorded is None:
            return "added"
        if self.current is None:
            return "removed"
        return "unchanged" if self.recorded == self.current else "changed"


def local_modules(repository: Repository) -> Manifest:
    """The repository's importable modules and their sha256, as the kernel would see them.

    ``PYTHONPATH`` is this process's: kernels inherit it (``runbook.engine.launch``).
    """
    return module_manifest(
        repository.root,
        pythonpath=os.environ.get("PYTHONPATH"),
        skip=(repository.state_dir, repository.runs_dir),
    )


def planned_modules(notebook: Notebook) -> Manifest:
    """The module manifest recorded in a plan notebook; empty for a plan that has none."""
    runbook_meta = notebook.get("metadata", {}).get("runbook", {})
    plan_meta = runbook_meta.get("plan") if isinstance(runbook_meta, dict) else None
    modules = plan_meta.get("modules") if isinstance(plan_meta, dict) else None
    if not isinstance(modules, dict):
        return {}
    return {str(path): str(sha) for path, sha in modules.items()}


def code_changes(repository: Repository, plan: Plan, current: Manifest | None = None) -> list[str]:
    """What changed since planning in the code the plan binds: the repository's modules
    (``current``, when the caller walked them already) and, for a playbook plan, the
    runbooks of its steps. Any change voids the plan's reviews."""
    modules = local_modules(repository) if current is None else current
    changes = manifest_changes(plan_modules(plan), modules)
    frozen = playbook_plan_of(plan)
    if frozen is not None:
        changes += step_changes(repository, frozen)
    return changes


def plan_modules(plan: Plan) -> Manifest:
    """The module manifest in the plan's recorded content (the store's copy)."""
    return planned_modules(json.loads(plan.content))


def module_statuses(repository: Repository, plan: Plan) -> list[ModuleStatus]:
    """Every module the plan recorded or the repository now holds, sorted by path."""
    recorded = plan_modules(plan)
    current = local_modules(repository)
    return [
        ModuleStatus(path, recorded.get(path), current.get(path))
        for path in sorted({*recorded, *current})
    ]
