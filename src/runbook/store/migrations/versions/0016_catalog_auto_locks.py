"""The catalog's automation locks: at most one automated run per (service, code).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 20:00:00

``catalog_auto_locks`` holds one row per (service, code) whose automated response an alert
holds; its primary key makes a second concurrent holder fail to insert, on SQLite and
PostgreSQL alike, across serve processes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table."""
    op.create_table(
        "catalog_auto_locks",
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("alert_id", sa.String(length=64), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("service", "code", name=op.f("pk_catalog_auto_locks")),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("catalog_auto_locks")
