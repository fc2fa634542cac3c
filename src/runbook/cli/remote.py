"""Which server, if any, a command talks to, and with whose token.

``--server URL``, else ``RUNBOOK_SERVER``, else the server ``runbook login`` logged in to
last. The token is ``RUNBOOK_TOKEN``, else the one kept for that server. With a server,
identity comes from the token: ``--as`` is refused.
"""

from __future__ import annotations

import os

import click

from runbook.errors import CredentialsError, UsageError
from runbook.orchestrate.client_credentials import current_server, server_key, stored_token
from runbook.orchestrate.remote_client import RemoteClient


def server_url(ctx: click.Context) -> str | None:
    """The server commands talk to, or None to work on the local store."""
    chosen = (ctx.find_root().obj or {}).get("server") or os.environ.get("RUNBOOK_SERVER")
    return server_key(chosen) if chosen else current_server()


def client_for(url: str) -> RemoteClient:
    """A client of ``url`` with the caller's token."""
    token = os.environ.get("RUNBOOK_TOKEN") or stored_token(url)
    if not token:
        raise CredentialsError(f"not logged in to {url}: run `runbook login {url}`")
    return RemoteClient(url, token)


def remote(ctx: click.Context, as_user: str | None = None) -> RemoteClient | None:
    """The client to use when a server is chosen (refusing ``--as``), else None."""
    url = server_url(ctx)
    if url is None:
        return None
    if as_user is not None:
        raise UsageError(f"--as: identity comes from your token on {url}")
    return client_for(url)
