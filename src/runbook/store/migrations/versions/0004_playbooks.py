"""Playbook definitions, playbook runs, their targets, and target locks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the playbook definitions, runs, targets and target locks tables."""
    op.create_table(
        "playbook_definitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("git_commit", sa.String(length=64), nullable=True),
        sa.Column("dirty", sa.Boolean(), nullable=True),
        sa.Column("imported_by", sa.String(length=255), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook_definitions")),
        sa.UniqueConstraint("name", "revision", name=op.f("uq_playbook_definitions_name")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "playbook_runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("playbook", sa.String(length=255), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("started_by", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finish_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retry_of", sa.String(length=64), nullable=True),
        sa.Column("cancel_mode", sa.String(length=16), nullable=True),
        sa.Column("cancel_requested_by", sa.String(length=255), nullable=True),
        sa.Column("lease_owner", sa.String(length=255), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook_runs")),
    )
    op.create_index(op.f("ix_playbook_runs_playbook"), "playbook_runs", ["playbook"])
    op.create_index(op.f("ix_playbook_runs_state"), "playbook_runs", ["state"])
    op.create_index(op.f("ix_playbook_runs_finish_ts"), "playbook_runs", ["finish_ts"])
    op.create_table(
        "playbook_targets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("address", sa.String(length=1024), nullable=False),
        sa.Column("vars", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=True),
        sa.Column("added", sa.Boolean(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("start_seq", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finish_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook_targets")),
        sa.UniqueConstraint("run_id", "name", name=op.f("uq_playbook_targets_run_id")),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["playbook_runs.id"],
            name=op.f("fk_playbook_targets_run_id_playbook_runs"),
            ondelete="CASCADE",
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "target_locks",
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target", name=op.f("pk_target_locks")),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["playbook_runs.id"],
            name=op.f("fk_target_locks_run_id_playbook_runs"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_target_locks_run_id"), "target_locks", ["run_id"])


def downgrade() -> None:
    """Drop target locks, playbook targets, playbook runs and playbook definitions."""
    op.drop_index(op.f("ix_target_locks_run_id"), table_name="target_locks")
    op.drop_table("target_locks")
    op.drop_table("playbook_targets")
    op.drop_index(op.f("ix_playbook_runs_finish_ts"), table_name="playbook_runs")
    op.drop_index(op.f("ix_playbook_runs_state"), table_name="playbook_runs")
    op.drop_index(op.f("ix_playbook_runs_playbook"), table_name="playbook_runs")
    op.drop_table("playbook_runs")
    op.drop_table("playbook_definitions")
