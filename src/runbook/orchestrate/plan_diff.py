"""What a plan changes against its source, as ``runbook review`` shows it and the API serves.

A runbook's plan is compared, cell by cell (:func:`runbook.model.diff.notebook_diff`), with
the runbook as it is now; a playbook's plan, with the newest import of its playbook (the
plan runs the revision it froze, not that one).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import yaml
from sqlalchemy.orm import Session

from runbook.errors import NotebookFormatError, PathEscapeError
from runbook.model.diff import notebook_diff
from runbook.model.notebook import read_wild_notebook
from runbook.model.plan import Plan
from runbook.model.playbooks.playbook_plan import playbook_plan_of
from runbook.model.repository import Repository
from runbook.orchestrate.plan_store import intact_plan_notebook


@dataclass(frozen=True)
class PlanDiff:
    """A plan against its source: unified diff ``lines`` (empty when they match).

    ``against`` is ``runbook`` or ``playbook``; ``unavailable`` says why the source could
    not be read (then there are no lines); for a playbook's plan, the revision it runs and
    the newest one.
    """

    plan: str
    against: str
    source: str
    lines: list[str] = field(default_factory=list)
    unavailable: str | None = None
    planned_revision: int | None = None
    newest_revision: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``GET /plans/{id}/diff``)."""
        return {
            "plan": self.plan,
            "against": self.against,
            "source": self.source,
            "changed": bool(self.lines),
            "lines": self.lines,
            "unavailable": self.unavailable,
            "planned_revision": self.planned_revision,
            "newest_revision": self.newest_revision,
        }


def plan_diff(session: Session, repository: Repository, plan: Plan) -> PlanDiff:
    """How ``plan`` (its notebook as kept in the store, verified) differs from its source."""
    frozen = playbook_plan_of(plan)
    if frozen is not None:
        from runbook.store.playbooks.playbook_definitions import get_definition

        newest = get_definition(session, frozen.name)
        lines: list[str] = []
        if newest.revision != frozen.revision:
            before = yaml.safe_dump(frozen.definition, sort_keys=True).splitlines()
            after = yaml.safe_dump(newest.definition, sort_keys=True).splitlines()
            lines = list(difflib.unified_diff(before, after, "planned", "newest", lineterm=""))
        return PlanDiff(
            plan.id,
            "playbook",
            frozen.name,
            lines,
            planned_revision=frozen.revision,
            newest_revision=newest.revision,
        )
    notebook = intact_plan_notebook(session, repository, plan)
    try:
        source = read_wild_notebook(
            repository.resolve(plan.runbook_path), plan.runbook_path
        ).notebook
    except (NotebookFormatError, PathEscapeError) as error:
        return PlanDiff(plan.id, "runbook", plan.runbook_path, unavailable=str(error))
    lines = notebook_diff(source, notebook, plan.runbook_path, plan.notebook_path)
    return PlanDiff(plan.id, "runbook", plan.runbook_path, lines)
