"""``runbook login``, ``logout`` and ``whoami``: the CLI as a client of a server."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from runbook.cli.context import json_option
from runbook.cli.output import console, print_json
from runbook.cli.remote import client_for, server_url
from runbook.errors import CredentialsError, UsageError
from runbook.orchestrate.client_credentials import credentials_path, forget, save_token
from runbook.orchestrate.remote_client import RemoteClient


@click.command("login")
@click.option(
    "--token-stdin", is_flag=True, help="Read the token from standard input (for scripts)."
)
@click.argument("url")
def login_command(url: str, token_stdin: bool) -> None:
    """Log in to the Runbook server at URL with an API token (`runbook token create`).

    The token is read from stdin or asked for without echo, checked with GET /me, and kept
    in a 0600 file under your config folder, one per server; it is never printed. Until
    `runbook logout`, plan, plans, review, run, runs and log talk to that server.
    """
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{url}: not an http:// or https:// URL")
    if token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = click.prompt("API token", hide_input=True, err=True).strip()
    if not token:
        raise CredentialsError("no token given")
    me = RemoteClient(url.rstrip("/"), token).get("/me")
    save_token(url, token, str(me.get("user", "")))
    console.print(
        f"Logged in to {escape(url.rstrip('/'))} as {escape(str(me.get('user')))} "
        f"({escape(str(me.get('role')))}); token kept in {credentials_path()}"
    )


@click.command("logout")
@click.argument("url", required=False)
def logout_command(url: str | None) -> None:
    """Forget the token of URL (default: the current server)."""
    removed = forget(url)
    if removed is None:
        raise UsageError(f"{url or 'no server'}: not logged in")
    console.print(f"Logged out of {escape(removed)}")


@click.command("whoami")
@json_option
@click.pass_context
def whoami_command(ctx: click.Context, as_json: bool) -> None:
    """Who the current server takes you for: user, role, identity kind."""
    url = server_url(ctx)
    if url is None:
        raise UsageError("not logged in to any server: run `runbook login URL`")
    me = client_for(url).get("/me")
    if as_json:
        print_json({"server": url, **me})
        return
    console.print(
        f"{escape(str(me.get('user')))} on {escape(url)}: role {escape(str(me.get('role')))}, "
        f"identity {escape(str(me.get('kind')))}"
    )
