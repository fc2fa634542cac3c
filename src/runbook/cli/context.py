"""What every command needs: the repository, an open store session, the acting user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from runbook.identity import current_user
from runbook.model.repository import Repository, find_repository

if TYPE_CHECKING:  # SQLAlchemy is imported when a store is opened: `runbook run` boots its
    # kernel before paying for it.
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker


def repository(ctx: click.Context) -> Repository:
    """The repository named by --repo / RUNBOOK_REPO, else the one around the cwd."""
    chosen = (ctx.find_root().obj or {}).get("repo")
    return find_repository(Path(chosen) if chosen else Path.cwd())


@contextmanager
def store_engine(repo: Repository) -> Iterator[Engine]:
    """The repository's store, migrated to the current schema, disposed of afterwards."""
    from runbook.orchestrate.store_access import store_engine as opened

    with opened(repo) as engine:
        yield engine


@contextmanager
def store_session(repo: Repository) -> Iterator[Session]:
    """One session on the repository's store, committed when the block succeeds."""
    from runbook.store.db import session_scope

    with store_engine(repo) as engine, session_scope(engine) as session:
        yield session


@contextmanager
def store_sessions(repo: Repository) -> Iterator[sessionmaker[Session]]:
    """A session factory on the store, for work spanning many transactions (a run)."""
    from sqlalchemy.orm import sessionmaker

    with store_engine(repo) as engine:
        yield sessionmaker(engine)


def acting_user(explicit: str | None, repo: Repository | None = None) -> str:
    """The user recorded on what this command does."""
    return current_user(explicit, cwd=repo.root if repo else None)


as_option = click.option(
    "--as",
    "as_user",
    metavar="USER",
    help="Act as USER (default: RUNBOOK_USER, git user.email, OS user).",
)
json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document for scripts instead of a table.",
)
