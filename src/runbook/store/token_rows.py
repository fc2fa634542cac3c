"""The ``api_tokens`` table (declared apart from :mod:`runbook.store.tables`, same metadata)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from runbook.store.tables import Base, UTCDateTime


class ApiTokenRow(Base):
    """An API token: its secret's sha256 (never the secret), user, role, tags, expiry,
    revocation."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(255))
    #: A JSON list of the runbook tags the token is narrowed to; NULL for none.
    tags: Mapped[str | None] = mapped_column(Text)
