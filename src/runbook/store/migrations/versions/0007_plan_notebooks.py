"""Plans keep their notebook in the store: ``plan_notebooks`` holds its exact bytes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 14:00:00

Plans recorded before this revision have no row here: they are read from their file under
``runs/plans/`` as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``plan_notebooks``."""
    op.create_table(
        "plan_notebooks",
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("notebook", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_plan_notebooks_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_plan_notebooks")),
    )


def downgrade() -> None:
    """Drop ``plan_notebooks``: plans are read from their local files alone again."""
    op.drop_table("plan_notebooks")
