"""A playbook's runbook steps that need review, checked for every target before any starts.

A runbook step that needs review runs under a standing approval for ``playbook:<name>``
(see :mod:`runbook.orchestrate.standing_approvals`). Its values are rendered for every
target and checked against the approval's bounds up front, so a playbook is refused before
the first target, in one line naming the target, the step and the bound, not target by
target as the batches reach them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from runbook.errors import SpecError, StandingRefusedError
from runbook.model.notebook import load_runbook
from runbook.model.playbooks.playbook import PlaybookSpec, RunbookStep, Target
from runbook.model.playbooks.playbook_templates import render_step
from runbook.model.repository import Repository
from runbook.orchestrate.plan_code import local_modules
from runbook.orchestrate.standing_approvals import approving_standing
from runbook.typing import JsonValue


def check_unattended_steps(
    session: Session,
    repository: Repository,
    spec: PlaybookSpec,
    targets: Sequence[Target],
    parameters: Mapping[str, JsonValue],
) -> None:
    """Raise StandingRefusedError when a runbook step that needs review is not approved by
    a standing approval for some target (the first one found is named)."""
    caller = f"playbook:{spec.name}"
    modules = local_modules(repository)  # once, not once per target
    for step in spec.steps:
        if not isinstance(step, RunbookStep):
            continue
        path = repository.resolve(step.runbook)
        runbook = load_runbook(path, repository.relative(path))
        if not repository.config.review.requires_review(runbook.meta.tags):
            continue
        for target in targets:
            try:
                values = render_step(step, target, parameters).parameters
            except SpecError:
                continue  # the target fails at that step, saying why, as it always did
            try:
                approving_standing(session, repository, runbook, caller, values, None, modules)
            except StandingRefusedError as refused:
                raise StandingRefusedError(
                    refused.runbook,
                    caller,
                    f"target {target.name}, step {step.name}: {refused.reason}",
                ) from None
