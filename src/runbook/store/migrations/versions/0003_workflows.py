"""Workflow runs, their tasks, and the scheduler's state.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``workflow_runs``, ``workflow_tasks`` and ``scheduler_state``."""
    op.create_table(
        "workflow_runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workflow", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("started_by", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reference_date", sa.Date(), nullable=True),
        sa.Column("date_ranges", sa.JSON(), nullable=True),
        sa.Column("resumed_from", sa.String(length=64), nullable=True),
        sa.Column("natural_key", sa.String(length=512), nullable=True),
        sa.Column("claim", sa.String(length=512), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=255), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_runs")),
        sa.UniqueConstraint("claim", name=op.f("uq_workflow_runs_claim")),
    )
    op.create_index(op.f("ix_workflow_runs_workflow"), "workflow_runs", ["workflow"])
    op.create_index(op.f("ix_workflow_runs_state"), "workflow_runs", ["state"])
    op.create_index(op.f("ix_workflow_runs_natural_key"), "workflow_runs", ["natural_key"])
    op.create_table(
        "workflow_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workflow_run_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("notebook_path", sa.String(length=1024), nullable=True),
        sa.Column("reports", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_tasks")),
        sa.UniqueConstraint(
            "workflow_run_id", "key", name=op.f("uq_workflow_tasks_workflow_run_id")
        ),
        sa.ForeignKeyConstraint(
            ["workflow_run_id"],
            ["workflow_runs.id"],
            name=op.f("fk_workflow_tasks_workflow_run_id_workflow_runs"),
            ondelete="CASCADE",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_workflow_tasks_workflow_run_id"), "workflow_tasks", ["workflow_run_id"]
    )
    op.create_table(
        "scheduler_state",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("last_fire", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_scheduler_state")),
    )


def downgrade() -> None:
    """Drop the scheduler's state, workflow tasks and workflow runs."""
    op.drop_table("scheduler_state")
    op.drop_index(op.f("ix_workflow_tasks_workflow_run_id"), table_name="workflow_tasks")
    op.drop_table("workflow_tasks")
    op.drop_index(op.f("ix_workflow_runs_natural_key"), table_name="workflow_runs")
    op.drop_index(op.f("ix_workflow_runs_state"), table_name="workflow_runs")
    op.drop_index(op.f("ix_workflow_runs_workflow"), table_name="workflow_runs")
    op.drop_table("workflow_runs")
