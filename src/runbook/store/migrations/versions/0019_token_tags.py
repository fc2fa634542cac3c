"""API tokens narrowed by runbook tags.

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-04 20:00:00

``api_tokens.tags`` holds a JSON list of the runbook tags a token's role is narrowed to
(NULL: not narrowed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``api_tokens.tags``."""
    # Recreated on SQLite, so the stored CREATE statement is the one the tables declare.
    recreate: Literal["always", "auto"] = (
        "always" if op.get_bind().dialect.name == "sqlite" else "auto"
    )
    with op.batch_alter_table("api_tokens", recreate=recreate) as batch:
        batch.add_column(sa.Column("tags", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop ``api_tokens.tags``."""
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("tags")
