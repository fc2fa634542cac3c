"""``runbook token create|list|revoke``: the service's API tokens."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from rich.markup import escape
from rich.table import Table

from runbook.cli.context import acting_user, as_option, json_option, repository, store_session
from runbook.cli.output import console, print_json, say, timestamp
from runbook.model.api_token import check_token_tags
from runbook.model.roles import Role, parse_role
from runbook.orchestrate.tokens import (
    create_token,
    list_tokens,
    parse_expiry,
    revoke_token,
    token_summary,
)


@click.group("token")
def token_group() -> None:
    """API tokens for `runbook serve`: random, shown once, stored only as their sha256."""


@token_group.command("create")
@click.option("--user", "user", required=True, metavar="USER", help="Who the token stands for.")
@click.option(
    "--role",
    "role",
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="What the token may do.",
)
@click.option(
    "--expires",
    metavar="WHEN",
    help="A duration (30d, 12h, 8w) or an ISO date (2027-01-31); default: until revoked.",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="TAG",
    help="Narrow the role to runbooks with this tag (repeatable; reading stays everywhere).",
)
@as_option
@json_option
@click.pass_context
def create_command(
    ctx: click.Context,
    user: str,
    role: str,
    expires: str | None,
    tags: tuple[str, ...],
    as_user: str | None,
    as_json: bool,
) -> None:
    """Create a token for USER with ROLE and print its secret, this once."""
    repo = repository(ctx)
    expires_at = parse_expiry(expires, datetime.now(UTC)) if expires else None
    narrowed = check_token_tags(tags, "--tag")
    with store_session(repo) as session:
        created = create_token(
            session,
            user=user,
            role=parse_role(role, "--role"),
            created_by=acting_user(as_user, repo),
            expires_at=expires_at,
            tags=narrowed,
        )
    if as_json:
        print_json({**token_summary(created.token), "secret": created.secret})
        return
    only = f" on runbooks tagged {', '.join(sorted(narrowed))}" if narrowed else ""
    say(
        f"token {created.token.id} for {escape(created.token.user)} ({role}{escape(only)}); "
        "the secret below is shown only now:"
    )
    click.echo(created.secret)


@token_group.command("list")
@json_option
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """List tokens, newest first (their secrets are not stored, so never shown)."""
    repo = repository(ctx)
    with store_session(repo) as session:
        tokens = list_tokens(session)
    now = datetime.now(UTC)
    if as_json:
        print_json([token_summary(t, now) for t in tokens])
        return
    if not tokens:
        console.print("no tokens yet: runbook token create --user USER --role ROLE")
        return
    table = Table("id", "user", "role", "state", "created", "expires", box=None)
    for token in tokens:
        table.add_row(
            token.id,
            escape(token.user),
            token.role.value,
            token.state(now),
            timestamp(token.created_at),
            timestamp(token.expires_at) if token.expires_at else "never",
        )
    console.print(table)


@token_group.command("revoke")
@click.argument("token_id", metavar="ID")
@as_option
@click.pass_context
def revoke_command(ctx: click.Context, token_id: str, as_user: str | None) -> None:
    """Revoke token ID: it stops authenticating at once."""
    repo = repository(ctx)
    with store_session(repo) as session:
        token = revoke_token(session, token_id, by=acting_user(as_user, repo))
    console.print(f"{token.id} revoked by {escape(token.revoked_by or '')}")
