"""``runbook db``: the store's schema."""

from __future__ import annotations

import click

from runbook.cli.context import json_option, repository
from runbook.cli.output import console, print_json
from runbook.config import database_url


@click.group("db")
def db_group() -> None:
    """Manage the store's schema (SQLite in .runbook/ or RUNBOOK_DB_URL)."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.pass_context
def upgrade_command(ctx: click.Context, revision: str) -> None:
    """Migrate the store to REVISION (default: the newest). Safe to repeat."""
    from runbook.store.db import current_revision, make_engine, upgrade

    repo = repository(ctx)
    engine = make_engine(database_url(repo.root, repo.config.store_url))
    try:
        before = current_revision(engine)
        upgrade(engine, revision)
        after = current_revision(engine)
    finally:
        engine.dispose()
    if before == after:
        console.print(f"store already at revision {after}; nothing to do")
    else:
        console.print(f"store upgraded from {before or 'empty'} to {after}")


@db_group.command("status")
@json_option
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Show the store's URL (password hidden) and schema revision."""
    from sqlalchemy.engine import make_url

    from runbook.store.db import HEAD_REVISION, current_revision, make_engine

    repo = repository(ctx)
    url = database_url(repo.root, repo.config.store_url)
    engine = make_engine(url)
    try:
        revision = current_revision(engine)
    finally:
        engine.dispose()
    shown = make_url(url).render_as_string(hide_password=True)
    data = {
        "url": shown,
        "revision": revision,
        "head": HEAD_REVISION,
        "up_to_date": revision == HEAD_REVISION,
    }
    if as_json:
        print_json(data)
        return
    console.print(f"url: {shown}\nrevision: {revision or 'empty'} (newest {HEAD_REVISION})")
