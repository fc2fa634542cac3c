"""The catalog: imported revisions, alert records, and the kill switch of automated response.

Revision ID: 0015
Revises: 0010
Create Date: 2026-12-04 03:00:00

``catalog_revisions`` holds each import of ``catalog/`` (with its git commit);
``catalog_alerts`` every alert received, unique on ``(source, fingerprint, starts_at)`` so a
repeated delivery creates nothing, with what the catalog answered and what was done;
``catalog_switches`` the ``paused`` switch (``runbook catalog pause|resume``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the three tables."""
    op.create_table(
        "catalog_revisions",
        sa.Column("revision", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("git_commit", sa.String(length=64), nullable=True),
        sa.Column("dirty", sa.Boolean(), nullable=True),
        sa.Column("imported_by", sa.String(length=255), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("revision", name=op.f("pk_catalog_revisions")),
    )
    op.create_table(
        "catalog_alerts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=255), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=True),
        sa.Column("code", sa.String(length=255), nullable=True),
        sa.Column("rule", sa.String(length=255), nullable=True),
        sa.Column("catalog_revision", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_alerts")),
        sa.UniqueConstraint(
            "source", "fingerprint", "starts_at", name=op.f("uq_catalog_alerts_source")
        ),
    )
    op.create_index(op.f("ix_catalog_alerts_service"), "catalog_alerts", ["service"])
    op.create_index(op.f("ix_catalog_alerts_action"), "catalog_alerts", ["action"])
    op.create_table(
        "catalog_switches",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(length=255), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_catalog_switches")),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("catalog_switches")
    op.drop_index(op.f("ix_catalog_alerts_action"), table_name="catalog_alerts")
    op.drop_index(op.f("ix_catalog_alerts_service"), table_name="catalog_alerts")
    op.drop_table("catalog_alerts")
    op.drop_table("catalog_revisions")
