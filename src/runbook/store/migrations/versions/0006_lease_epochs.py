"""Workflow runs and playbook runs get a lease epoch, as runs have had since 0002.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:20:00

Every leased record's writes are fenced by its epoch (``runbook.store.leases``). Records
written before this revision hold the first epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("workflow_runs", "playbook_runs")


def upgrade() -> None:
    """Add ``lease_epoch`` (1 for every existing record)."""
    # Recreated on SQLite, so the stored CREATE statement is the one the tables declare.
    recreate: Literal["always", "auto"] = (
        "always" if op.get_bind().dialect.name == "sqlite" else "auto"
    )
    for table in _TABLES:
        with op.batch_alter_table(table, recreate=recreate) as batch:
            batch.add_column(
                sa.Column("lease_epoch", sa.Integer(), nullable=False, server_default="1")
            )


def downgrade() -> None:
    """Drop ``lease_epoch``."""
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("lease_epoch")
