"""Who may start, decide and stop a given run: the role, narrowed by the runbook's tags.

A principal narrowed to some tags (:mod:`runbook.model.roles`) acts only on runbooks
carrying one of them; the tags are those of the plan's content, the reviewed notebook.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from runbook.errors import ForbiddenError
from runbook.model.roles import Permission, Principal, allows
from runbook.store.plans import get_plan
from runbook.store.runs import get_run

if TYPE_CHECKING:
    from runbook.model.notebook import Runbook


def plan_tags(session: Session, plan_id: str) -> tuple[str, ...]:
    """The tags of the runbook a plan binds (UnknownPlanError when there is no such plan)."""
    plan = get_plan(session, plan_id)
    try:
        meta = json.loads(plan.content).get("metadata", {}).get("runbook", {})
    except (ValueError, AttributeError):
        return ()
    tags = meta.get("tags", []) if isinstance(meta, dict) else []
    return tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()


def authorize_plan(
    session: Session, principal: Principal, permission: Permission, plan_id: str
) -> None:
    """ForbiddenError unless ``principal`` may do ``permission`` on the plan's runbook."""
    if not allows(principal, permission, plan_tags(session, plan_id)):
        raise ForbiddenError(principal.user, principal.role.value, permission.value)


def authorize_runbook(principal: Principal, permission: Permission, runbook: Runbook) -> None:
    """ForbiddenError unless ``principal`` may do ``permission`` on ``runbook`` (before any
    plan of it exists: planning it)."""
    if not allows(principal, permission, runbook.meta.tags):
        raise ForbiddenError(principal.user, principal.role.value, permission.value)


def authorize_run(
    session: Session, principal: Principal, permission: Permission, run_id: str
) -> None:
    """ForbiddenError unless ``principal`` may do ``permission`` on the run's runbook."""
    authorize_plan(session, principal, permission, get_run(session, run_id).plan_id)
