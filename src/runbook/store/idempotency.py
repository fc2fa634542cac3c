"""The ``idempotency_keys`` table and its record functions.

One row per (principal, key): the request's fingerprint, and the response once the request
has been carried out (``status`` 0 while it is being carried out). The rules (who, how long,
what counts as the same request) are in :mod:`runbook.orchestrate.idempotency`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from runbook.store.tables import Base, UTCDateTime, require_aware


class IdempotencyKeyRow(Base):
    """A creating request a client may retry: who sent it, its key, and what it answered."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_principal_key", "principal", "key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    principal: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


@dataclass(frozen=True)
class KeptRequest:
    """A recorded request: its fingerprint and, once done, its response (status 0: not yet)."""

    principal: str
    key: str
    fingerprint: str
    status: int
    body: Any
    created_at: datetime


def find_request(session: Session, principal: str, key: str) -> KeptRequest | None:
    """The request ``principal`` sent with ``key``, if any is recorded."""
    row = session.scalars(
        select(IdempotencyKeyRow).where(
            IdempotencyKeyRow.principal == principal, IdempotencyKeyRow.key == key
        )
    ).first()
    if row is None:
        return None
    return KeptRequest(
        row.principal, row.key, row.fingerprint, row.status, row.body, row.created_at
    )


def reserve_request(
    session: Session, principal: str, key: str, fingerprint: str, at: datetime
) -> bool:
    """Record a request about to be carried out; False when (principal, key) is taken
    (by a concurrent request: the unique index decides)."""
    row = IdempotencyKeyRow(
        principal=principal,
        key=key,
        fingerprint=fingerprint,
        status=0,
        body=None,
        created_at=require_aware(at, f"idempotency key {key}"),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


def complete_request(session: Session, principal: str, key: str, status: int, body: Any) -> None:
    """Record the response of a reserved request."""
    row = session.scalars(
        select(IdempotencyKeyRow).where(
            IdempotencyKeyRow.principal == principal, IdempotencyKeyRow.key == key
        )
    ).one()
    row.status = status
    row.body = body
    session.flush()


def forget_request(session: Session, principal: str, key: str) -> None:
    """Remove the record of (principal, key)."""
    session.execute(
        delete(IdempotencyKeyRow).where(
            IdempotencyKeyRow.principal == principal, IdempotencyKeyRow.key == key
        )
    )


def forget_requests_before(session: Session, before: datetime) -> int:
    """Remove every request recorded before ``before``; how many."""
    result = session.execute(
        delete(IdempotencyKeyRow).where(
            IdempotencyKeyRow.created_at < require_aware(before, "idempotency cutoff")
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
