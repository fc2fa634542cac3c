"""Playbook runs reviewed as a whole: planning a playbook, and running the plan.

``runbook playbook plan NAME`` freezes an imported revision, its parameter values and its
inventory source into a plan (:mod:`runbook.model.playbooks.playbook_plan`), under the same
``[review]`` rules as a runbook's plan: the playbook's ``tags`` and those of the runbooks its
steps run decide whether it needs approval and from whom. A playbook that needs review
(``review.require = "all"``, or a tag the rules name) runs only from such a plan, approved:
its shell steps across the fleet no longer bypass review. The approval covers the runbook
steps too, at the content the plan bound: each step's plan records it (``plan:<id>`` as
the approval it ran under), and a runbook changed since planning voids the approval before
any target starts. The first playbook run of the plan that succeeds spends it; a failed,
cancelled or interrupted one may be retried under it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from runbook.errors import PlaybookReviewError, ReviewRequiredError, UsageError
from runbook.model.identity import check_identity
from runbook.model.notebook import load_runbook
from runbook.model.plan import Plan
from runbook.model.playbooks.playbook import PlaybookSpec
from runbook.model.playbooks.playbook_plan import (
    PLAYBOOK_KEY,
    PlaybookPlan,
    playbook_plan_notebook,
    playbook_plan_of,
    playbook_plan_path,
    runbook_content_sha256,
    step_runbooks,
)
from runbook.model.playbooks.playbook_run import PlaybookDefinition
from runbook.model.repository import Repository
from runbook.model.review_rules import RecordedRules
from runbook.model.working_dir import PLAN_CWD_KEY
from runbook.orchestrate.plan_code import local_modules
from runbook.orchestrate.plan_writing import PlanHeader, write_plan
from runbook.orchestrate.planning import load_runnable, new_plan_id
from runbook.store.plans import get_plan
from runbook.typing import JsonValue


def needs_review(repository: Repository, spec: PlaybookSpec) -> bool:
    """Whether the playbook itself needs an approved plan to run (``review.require`` and its
    own tags); runbook steps needing review may otherwise run under standing approvals."""
    return repository.config.review.requires_review(spec.tags)


def refuse_unplanned(repository: Repository, spec: PlaybookSpec) -> None:
    """Raise PlaybookReviewError when the playbook may run only from an approved plan."""
    if needs_review(repository, spec):
        raise PlaybookReviewError(spec.name)


def plan_playbook(
    session: Session,
    repository: Repository,
    definition: PlaybookDefinition,
    values: Mapping[str, JsonValue],
    *,
    planner: str,
    now: datetime | None = None,
) -> Plan:
    """Freeze ``definition`` with its bound parameter ``values`` into a plan to review.

    The plan needs review when the playbook or one of its step runbooks needs it under the
    repository's rules; a step runbook that cannot be loaded is refused now, not per target.
    """
    from runbook.orchestrate.playbooks.fleet import bind_playbook_parameters

    check_identity(planner, "planner")
    spec = definition.spec
    bound = bind_playbook_parameters(spec, values)
    runbooks = {}
    tags = list(spec.tags)  # what the review rules judge: its own and its runbooks' tags
    for relative in step_runbooks(spec):
        # Loaded now, so that a step runbook that cannot load is refused, naming it.
        tags.extend(load_runbook(repository.resolve(relative), relative).meta.tags)
        runbooks[relative] = runbook_content_sha256(repository, relative)
    frozen = PlaybookPlan(
        spec.name, definition.revision, spec.version, definition.definition, runbooks
    )
    planned_at = now or datetime.now(UTC)
    plan_id = new_plan_id(f"playbook {spec.name}")
    notebook = playbook_plan_notebook(frozen, bound, definition.source)
    notebook.metadata["runbook"] = {
        "title": f"playbook {spec.name}",
        "tags": list(tags),
        "plan": {
            "id": plan_id,
            "runbook": playbook_plan_path(spec.name),
            "planned_by": planner,
            "planned_at": planned_at.isoformat(),
            "parameters": bound,
            PLAN_CWD_KEY: ".",
            "modules": local_modules(repository),
            PLAYBOOK_KEY: frozen.to_json(),
        },
    }
    rules = repository.config.review
    judged = tuple(dict.fromkeys(tags))
    return write_plan(
        session,
        repository,
        notebook,
        PlanHeader(
            id=plan_id,
            runbook_path=playbook_plan_path(spec.name),
            title=f"playbook {spec.name}",
            parameters=bound,
            planned_by=planner,
            planned_at=planned_at,
            review_required=rules.requires_review(judged),
            review_rules=RecordedRules(judged, rules.rules.requirements(judged)),
        ),
    )


def runnable_playbook_plan(
    session: Session, repository: Repository, plan_id: str
) -> tuple[Plan, PlaybookPlan]:
    """The plan and what it froze, if it may run now (approved, intact, unspent, its
    runbooks unchanged); the PolicyError saying why not otherwise."""
    plan = get_plan(session, plan_id)
    frozen = playbook_plan_of(plan)
    if frozen is None:
        raise UsageError(f"plan {plan_id} is a runbook's plan: run it with `runbook run {plan_id}`")
    load_runnable(session, repository, plan_id)
    return plan, frozen


def check_covered_step(repository: Repository, frozen: PlaybookPlan, relative: str) -> None:
    """Raise ReviewRequiredError when a runbook step's runbook is not what the plan bound."""
    if runbook_content_sha256(repository, relative) != frozen.runbooks.get(relative):
        raise ReviewRequiredError(
            f"playbook {frozen.name}",
            f"runbook {relative} changed since the playbook was planned; plan it again",
        )
