"""Standing approvals, and the one a plan made by an unattended caller was approved by.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:30:00

``standing_approvals`` holds a reviewer's approval of a runbook at its content hash for
named callers (workflows, playbooks, catalog rules), with a bound on each parameter, an
expiry, and whether confirm cells may run with nobody there; revoking one stamps it.
``plans.standing_approval`` names the one a plan was approved by (NULL: reviewed as usual).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``standing_approvals``; add ``plans.standing_approval``."""
    op.create_table(
        "standing_approvals",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("runbook_path", sa.String(length=1024), nullable=False),
        sa.Column("runbook_sha256", sa.String(length=64), nullable=False),
        sa.Column("bounds", sa.JSON(), nullable=False),
        sa.Column("callers", sa.JSON(), nullable=False),
        sa.Column("approved_by", sa.String(length=255), nullable=False),
        sa.Column("identity_kind", sa.String(length=16), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirm_unattended", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=255), nullable=True),
        sa.Column("modules", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standing_approvals")),
    )
    op.create_index(
        op.f("ix_standing_approvals_runbook_path"), "standing_approvals", ["runbook_path"]
    )
    recreate: Literal["always", "auto"] = (
        "always" if op.get_bind().dialect.name == "sqlite" else "auto"
    )
    with op.batch_alter_table("plans", recreate=recreate) as batch:
        batch.add_column(sa.Column("standing_approval", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("standing_approval")
    op.drop_index(op.f("ix_standing_approvals_runbook_path"), table_name="standing_approvals")
    op.drop_table("standing_approvals")
