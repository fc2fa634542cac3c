"""Which recorded verdicts count, and which rules they must meet.

Where ``[review] signed = true``, only approvals whose SSH signature still verifies against
``allowed_signers`` as it is now count (removing a key from it withdraws its approvals, as
removing a signer does in git); rejections always count. The rules are those recorded on
the plan and those of ``runbook.toml`` now, together: the stricter wins.
"""

from __future__ import annotations

from runbook.model.plan import Plan
from runbook.model.readiness import ONE_APPROVAL
from runbook.model.repository import Repository
from runbook.model.review import Review, Verdict, signed_message
from runbook.model.review_rules import Requirement
from runbook.orchestrate.ssh_signatures import verifies


def signature_holds(repository: Repository, review: Review) -> bool:
    """Whether a signed review still verifies against ``allowed_signers`` as it is now."""
    allowed = repository.config.review.allowed_signers
    if review.signature is None or review.nonce is None or allowed is None:
        return False
    if not allowed.is_file():
        return False
    message = signed_message(review.plan_id, review.plan_sha256, review.verdict, review.nonce)
    return verifies(message, review.signature, allowed, review.reviewer)


def counted_reviews(repository: Repository, reviews: list[Review]) -> tuple[list[Review], int]:
    """The reviews that count, and how many approvals were left out for want of a valid
    signature (only where ``review.signed``; a rejection always counts)."""
    if not repository.config.review.signed:
        return reviews, 0
    kept = [
        r for r in reviews if r.verdict is not Verdict.APPROVED or signature_holds(repository, r)
    ]
    return kept, len(reviews) - len(kept)


def review_rules_now(repository: Repository, plan: Plan) -> tuple[bool, tuple[Requirement, ...]]:
    """Whether ``plan`` needs review and the approvals it needs: what it recorded when it
    was planned and what ``runbook.toml`` says now, both (a plan made before rules were
    recorded keeps its recorded ``review_required`` and needs one approval)."""
    recorded = plan.review_rules
    if recorded is None:
        return plan.review_required, ONE_APPROVAL
    policy = repository.config.review
    required = plan.review_required or policy.requires_review(recorded.tags)
    both = (*recorded.requirements, *policy.rules.requirements(recorded.tags))
    return required, tuple(dict.fromkeys(both))
