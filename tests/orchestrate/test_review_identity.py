"""Self-review cannot be passed by a lookalike or invisibly altered name."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from runbook.errors import IdentityError, SelfReviewError
from runbook.model.repository import Repository
from runbook.model.review import Verdict
from runbook.orchestrate.planning import plan_runbook
from runbook.orchestrate.reviewing import review_plan
from runbook.store.tables import PlanRow
from tests.model.test_identity import ALICE_VARIANTS
from tests.orchestrate.test_planning import make_runbook

INVISIBLE = {
    "alice\u200b",
    "ali\u00adce",
    "\ufeffalice",
    "\u202ealice",
    "ali\u034fce",
    "alice\ufe0f",
}


@pytest.mark.parametrize("variant", ALICE_VARIANTS.values(), ids=ALICE_VARIANTS.keys())
def test_alice_cannot_review_her_plan_under_another_spelling(
    repo: Repository, session: Session, variant: str
) -> None:
    plan = plan_runbook(session, repo, make_runbook(repo), {"host": "db1"}, planner="alice")
    refusal = IdentityError if variant in INVISIBLE else SelfReviewError
    with pytest.raises(refusal):
        review_plan(session, repo, plan.id, Verdict.APPROVED, reviewer=variant)
    assert review_plan(session, repo, plan.id, Verdict.APPROVED, reviewer="bob").reviewer == "bob"


@pytest.mark.parametrize("planner", sorted(INVISIBLE))
def test_a_recorded_planner_with_invisible_characters_is_still_alice(
    repo: Repository, session: Session, planner: str
) -> None:
    # A record written before identities were checked, or by another writer of the store.
    plan = plan_runbook(session, repo, make_runbook(repo), {"host": "db1"}, planner="alice")
    session.execute(update(PlanRow).where(PlanRow.id == plan.id).values(planned_by=planner))
    session.commit()
    with pytest.raises(SelfReviewError):
        review_plan(session, repo, plan.id, Verdict.APPROVED, reviewer="alice")


def test_an_unprintable_planner_is_refused_before_anything_is_written(
    repo: Repository, session: Session
) -> None:
    with pytest.raises(IdentityError, match="planner 'alice\\\\u200b' holds the unprintable"):
        plan_runbook(session, repo, make_runbook(repo), {"host": "db1"}, planner="alice\u200b")
    assert not repo.plans_dir.exists() or list(repo.plans_dir.iterdir()) == []
