"""Live runs: the event stream of each run, the gates it waits at, requests to it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 02:30:00

``run_events`` holds every event a run streams (cell starts, masked outputs, gate waits and
decisions, the end) with a per-run sequence number, unique per run, that a follower resumes
after. ``run_gates`` holds each wait of a run without a terminal at a gate and the decision
someone made there; ``run_controls`` the cancel and interrupt requests sent to a run.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _run_id() -> sa.Column[str]:
    return sa.Column("run_id", sa.String(length=64), nullable=False)


def upgrade() -> None:
    """Create ``run_events``, ``run_gates`` and ``run_controls``."""
    op.create_table(
        "run_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _run_id(),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cell_index", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_run_events_run_id")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_events_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_events")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "run_gates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _run_id(),
        sa.Column("cell_index", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("shown", sa.JSON(), nullable=False),
        sa.Column("executor", sa.String(length=255), nullable=False),
        sa.Column("by_other", sa.Boolean(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_gates_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_gates")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_run_gates_run_id"), "run_gates", ["run_id"])
    op.create_table(
        "run_controls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _run_id(),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_controls_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_controls")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_run_controls_run_id"), "run_controls", ["run_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index(op.f("ix_run_controls_run_id"), table_name="run_controls")
    op.drop_table("run_controls")
    op.drop_index(op.f("ix_run_gates_run_id"), table_name="run_gates")
    op.drop_table("run_gates")
    op.drop_table("run_events")
