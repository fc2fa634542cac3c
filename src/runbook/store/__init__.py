"""Persistence: SQLAlchemy 2 tables, Alembic migrations and record functions."""
