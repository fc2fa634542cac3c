"""Reviews say which kind of identity made them, signed ones keep their SSH signature, and
plans keep the review rules they were made under.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 14:00:00

``identity_kind`` is ``claimed`` (``--as``, ``RUNBOOK_USER``, git's email, the OS user) or
``ssh-key`` (the principal ``allowed_signers`` lists for the key that signed). A signed
review keeps the armored signature and the nonce it covers, so ``verify``, ``run`` and
``audit verify`` check it again; a signature is recorded once (a replay is refused).
Reviews recorded before this revision are ``claimed``. ``plans.review_rules`` holds the
runbook's tags and the approvals required when it was planned (NULL before this revision:
one approval from anyone, as then).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``identity_kind``, ``signature``, ``nonce`` and ``signer_key`` to reviews."""
    # Recreated on SQLite, so the stored CREATE statement is the one the tables declare.
    recreate: Literal["always", "auto"] = (
        "always" if op.get_bind().dialect.name == "sqlite" else "auto"
    )
    # AUTOINCREMENT kept (review ids only grow: see store/tables.py).
    with op.batch_alter_table(
        "reviews", recreate=recreate, table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.add_column(
            sa.Column(
                "identity_kind", sa.String(length=16), nullable=False, server_default="claimed"
            )
        )
        batch.add_column(sa.Column("signature", sa.Text(), nullable=True))
        batch.add_column(sa.Column("nonce", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("signer_key", sa.String(length=128), nullable=True))
        batch.create_unique_constraint("uq_reviews_signature", ["signature"])
    with op.batch_alter_table("plans", recreate=recreate) as batch:
        batch.add_column(sa.Column("review_rules", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("review_rules")
    with op.batch_alter_table("reviews") as batch:
        batch.drop_constraint("uq_reviews_signature", type_="unique")
        batch.drop_column("signer_key")
        batch.drop_column("nonce")
        batch.drop_column("signature")
        batch.drop_column("identity_kind")
