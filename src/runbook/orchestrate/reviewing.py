"""Verdicts on plans: recording one, signed or claimed, and which recorded ones count.

Where ``[review] signed = true``, a verdict counts only with an SSH signature (see
:mod:`runbook.orchestrate.ssh_signatures`) by a key the repository's ``allowed_signers``
lists, over :func:`runbook.model.review.signed_message` for this plan, its content and this
verdict; the key's principal is the reviewer, whatever ``--as`` said. Signatures are checked
when the verdict is recorded and again whenever the plan is judged (``verify``, ``run``,
listings), against ``allowed_signers`` as it is then: removing a key from it withdraws its
approvals, as removing a signer does in git.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from runbook.errors import (
    NothingToWithdrawError,
    PlanCodeChangedError,
    SelfReviewError,
    SignatureError,
)
from runbook.model.audit import EventKind, plan_subject
from runbook.model.audit_facts import review_event_payload
from runbook.model.identity import check_identity
from runbook.model.plan import Plan, PlanState
from runbook.model.repository import Repository
from runbook.model.review import (
    IdentityKind,
    Review,
    Verdict,
    plan_state,
    same_person,
    signed_message,
    standing,
)
from runbook.orchestrate.plan_code import code_changes
from runbook.orchestrate.plan_store import intact_plan_file
from runbook.orchestrate.ssh_signatures import SigningKey, fingerprint, principals, sign, verifies
from runbook.store.audit import append_event
from runbook.store.plans import get_plan, set_plan_state
from runbook.store.reviews import add_review, list_reviews, signature_recorded


@dataclass(frozen=True)
class SignedVerdict:
    """A verdict's signature made elsewhere (by a client of the API, say): its nonce and the
    armored signature over :func:`signed_message` with it."""

    nonce: str
    signature: str


def review_plan(
    session: Session,
    repository: Repository,
    plan_id: str,
    verdict: Verdict,
    *,
    reviewer: str,
    comment: str | None = None,
    now: datetime | None = None,
    key: SigningKey | None = None,
    signed: SignedVerdict | None = None,
    own_key: bool = False,
    identity: IdentityKind = IdentityKind.CLAIMED,
) -> Review:
    """Record a verdict on a plan, bound to the content the reviewer saw.

    The planner may not review their own plan, and a plan whose file changed since it was
    planned cannot be reviewed at all. With ``key`` the verdict is signed here; with
    ``signed`` it was signed elsewhere; either makes the key's principal the reviewer. A
    repository with ``review.signed`` refuses a verdict with neither (SignatureError).
    With ``own_key`` (a verdict signed elsewhere and sent by a proven ``reviewer``, as the
    service receives it), the key must be one ``allowed_signers`` lists for ``reviewer``.
    ``identity`` says how ``reviewer`` was established (the service's principal's kind); a
    signature makes it ``ssh-key``.
    """
    check_identity(reviewer, "reviewer")
    plan = get_plan(session, plan_id)
    at = now or datetime.now(UTC)
    if key is not None and signed is None:
        nonce = secrets.token_hex(16)
        signed = SignedVerdict(
            nonce, sign(signed_message(plan.id, plan.sha256, verdict, nonce), key)
        )
    if signed is not None:
        review = _signed_review(
            session, repository, plan, verdict, reviewer, signed, at, comment or None
        )
        if own_key and not same_person(review.reviewer, reviewer):
            raise SignatureError(
                f"plan {plan.id}: the key that signed is {review.reviewer}'s, not "
                f"{reviewer}'s: sign with your own key"
            )
    elif repository.config.review.signed:
        raise SignatureError(
            f"plan {plan.id}: this repository requires signed reviews (review.signed): "
            "sign with --key or a key in the ssh-agent listed in allowed_signers"
        )
    else:
        review = Review(
            plan.id, verdict, reviewer, plan.sha256, at, comment or None, identity_kind=identity
        )
    if same_person(plan.planned_by, review.reviewer):
        raise SelfReviewError(plan.id, plan.planned_by, review.reviewer)
    intact_plan_file(session, repository, plan)
    changes = code_changes(repository, plan)
    if changes:
        raise PlanCodeChangedError(plan.id, changes)
    if verdict is Verdict.WITHDRAWN:
        _check_withdrawable(session, plan, review.reviewer)
    recorded = add_review(session, review)
    append_event(
        session,
        kind=EventKind.REVIEW_RECORDED,
        actor=recorded.reviewer,
        subject=plan_subject(plan.id),
        payload=review_payload(recorded),
        at=recorded.reviewed_at,
    )
    set_plan_state(session, plan.id, PlanState(plan_state(list_reviews(session, plan.id))))
    session.commit()
    return recorded


def _check_withdrawable(session: Session, plan: Plan, reviewer: str) -> None:
    """A withdrawal takes back a standing verdict of the same reviewer: refuse one with none."""
    mine = [
        r for r in standing(list_reviews(session, plan.id)) if same_person(r.reviewer, reviewer)
    ]
    if not mine:
        raise NothingToWithdrawError(plan.id, reviewer)


def review_payload(review: Review) -> dict[str, object]:
    """What a review's ``review.recorded`` audit event says (a signed one: its signature)."""
    return review_event_payload(
        review.verdict.value,
        review.plan_sha256,
        review.comment,
        review.identity_kind.value,
        review.signature,
        review.nonce,
        review.signer_key,
    )


def _signed_review(
    session: Session,
    repository: Repository,
    plan: Plan,
    verdict: Verdict,
    claimed: str,
    signed: SignedVerdict,
    at: datetime,
    comment: str | None,
) -> Review:
    """The review a signature proves, or the SignatureError saying why it proves nothing."""
    allowed = _allowed_signers(repository, plan.id)
    names = principals(signed.signature, allowed)
    if not names:
        raise SignatureError(
            f"plan {plan.id}: the key that signed is not listed in {allowed.name}: "
            "its verdict cannot be recorded"
        )
    reviewer = next((n for n in names if same_person(n, claimed)), names[0])
    for name in names:  # the planner's own key, under any of its names
        if same_person(plan.planned_by, name):
            raise SelfReviewError(plan.id, plan.planned_by, name, by_key=True)
    message = signed_message(plan.id, plan.sha256, verdict, signed.nonce)
    if not verifies(message, signed.signature, allowed, reviewer):
        raise SignatureError(
            f"plan {plan.id}: the signature is not {reviewer}'s {verdict.value} verdict on "
            f"this plan's content (sha256 {plan.sha256[:12]}…)"
        )
    if signature_recorded(session, signed.signature):
        raise SignatureError(f"plan {plan.id}: this signature is already recorded (a replay)")
    return Review(
        plan.id,
        verdict,
        reviewer,
        plan.sha256,
        at,
        comment,
        identity_kind=IdentityKind.SSH_KEY,
        signature=signed.signature,
        nonce=signed.nonce,
        signer_key=fingerprint(message, signed.signature),
    )


def _allowed_signers(repository: Repository, plan_id: str) -> Path:
    allowed = repository.config.review.allowed_signers
    if allowed is None or not allowed.is_file():
        shown = allowed.name if allowed is not None else "allowed_signers"
        raise SignatureError(
            f"plan {plan_id}: signed reviews need the repository's {shown} file "
            "(review.allowed_signers), which lists who may review"
        )
    return allowed
