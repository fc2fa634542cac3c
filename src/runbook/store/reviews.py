"""Record functions for reviews. They take and return :class:`runbook.model.review.Review`."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from runbook.errors import UnknownPlanError
from runbook.model.review import IdentityKind, Review, Verdict
from runbook.store.tables import PlanRow, ReviewRow, require_aware


def add_review(session: Session, review: Review) -> Review:
    """Record a review and return it with its new id.

    Raises :class:`UnknownPlanError` when the plan does not exist, and ``ValueError`` when
    the review already has an id (reviews are only ever added) or ``reviewed_at`` is naive.
    """
    if review.id is not None:
        raise ValueError(f"review {review.id} of plan {review.plan_id} is already recorded")
    reviewed_at = require_aware(review.reviewed_at, f"review of plan {review.plan_id}")
    if session.get(PlanRow, review.plan_id) is None:
        raise UnknownPlanError(review.plan_id)
    row = ReviewRow(
        plan_id=review.plan_id,
        verdict=Verdict(review.verdict).value,
        reviewer=review.reviewer,
        comment=review.comment,
        plan_sha256=review.plan_sha256,
        reviewed_at=reviewed_at,
        identity_kind=IdentityKind(review.identity_kind).value,
        signature=review.signature,
        nonce=review.nonce,
        signer_key=review.signer_key,
    )
    session.add(row)
    session.flush()
    return dataclasses.replace(review, id=row.id, reviewed_at=reviewed_at)


def list_reviews(session: Session, plan_id: str) -> list[Review]:
    """Reviews of a plan, oldest first (``reviewed_at`` then id); empty for an unknown plan."""
    query = (
        select(ReviewRow)
        .where(ReviewRow.plan_id == plan_id)
        .order_by(ReviewRow.reviewed_at, ReviewRow.id)
    )
    return [_to_review(row) for row in session.scalars(query)]


def reviews_by_plan(session: Session, plan_ids: list[str]) -> dict[str, list[Review]]:
    """:func:`list_reviews` of each of ``plan_ids``, in one query (a listing's)."""
    found: dict[str, list[Review]] = {plan_id: [] for plan_id in plan_ids}
    if not plan_ids:
        return found
    query = (
        select(ReviewRow)
        .where(ReviewRow.plan_id.in_(plan_ids))
        .order_by(ReviewRow.reviewed_at, ReviewRow.id)
    )
    for row in session.scalars(query):
        found[row.plan_id].append(_to_review(row))
    return found


def signed_reviews(session: Session) -> list[Review]:
    """Every review that carries a signature, in id order."""
    query = select(ReviewRow).where(ReviewRow.signature.is_not(None)).order_by(ReviewRow.id)
    return [_to_review(row) for row in session.scalars(query)]


def signature_recorded(session: Session, signature: str) -> bool:
    """Whether a review with this exact signature is recorded (a replay, if presented again)."""
    return session.scalar(select(ReviewRow.id).where(ReviewRow.signature == signature)) is not None


def _to_review(row: ReviewRow) -> Review:
    return Review(
        id=row.id,
        plan_id=row.plan_id,
        verdict=Verdict(row.verdict),
        reviewer=row.reviewer,
        comment=row.comment,
        plan_sha256=row.plan_sha256,
        reviewed_at=row.reviewed_at,
        identity_kind=IdentityKind(row.identity_kind),
        signature=row.signature,
        nonce=row.nonce,
        signer_key=row.signer_key,
    )
