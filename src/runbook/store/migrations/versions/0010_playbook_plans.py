"""A playbook run names the plan it ran under: a reviewed playbook plan is spent by it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 02:50:00

A playbook planned with ``runbook playbook plan`` is a plan like a runbook's (its notebook,
hash and reviews are kept as theirs are); the run made from it records its id, so that the
first run that succeeds spends the approval. Runs started before this revision, or without
a plan, have none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``playbook_runs.plan_id``, indexed."""
    # Recreated on SQLite, so the stored CREATE statement is the one the table declares.
    recreate: Literal["always", "auto"] = (
        "always" if op.get_bind().dialect.name == "sqlite" else "auto"
    )
    with op.batch_alter_table("playbook_runs", recreate=recreate) as batch:
        batch.add_column(sa.Column("plan_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_playbook_runs_plan_id", ["plan_id"])


def downgrade() -> None:
    """Drop ``playbook_runs.plan_id``."""
    with op.batch_alter_table("playbook_runs") as batch:
        batch.drop_index("ix_playbook_runs_plan_id")
        batch.drop_column("plan_id")
