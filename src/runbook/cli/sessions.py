"""``runbook sessions``: the editing sessions of a Runbook server, from the terminal.

A client of ``/sessions`` and ``/autosave`` on the server ``runbook login`` chose: sessions
live in the server's processes, so there is no local mode (``runbook edit`` is that).
"""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape

from runbook.cli.output import console, print_json, say
from runbook.cli.remote import remote
from runbook.errors import UsageError
from runbook.orchestrate.remote_client import RemoteClient


def _client(ctx: click.Context) -> RemoteClient:
    client = remote(ctx)
    if client is None:
        raise UsageError(
            "runbook sessions talks to a server: `runbook login URL` or --server URL first"
        )
    return client


def _show(record: dict[str, Any]) -> None:
    saved = f", autosaved to {record['autosave']}" if record.get("autosave") else ""
    reason = f" ({record['stop_reason']})" if record.get("stop_reason") else ""
    console.print(
        f"{escape(record['name'])}  {record['state']}{escape(reason)}  "
        f"{escape(record['branch'])}  {escape(record['owner'])}{escape(saved)}",
        highlight=False,
    )


@click.group("sessions")
def sessions_group() -> None:
    """List, start and stop your editing sessions on the server, and your autosaves."""


@sessions_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """Your sessions (an admin's: everyone's)."""
    found = _client(ctx).get("/sessions")
    if as_json:
        print_json(found)
        return
    for record in found:
        _show(record)
    if not found:
        say("no sessions")


@sessions_group.command("start")
@click.argument("name")
@click.option("--branch", help="The branch to edit (default session/<you>/<name>).")
@click.option("--runbook", help="A runbook to open.")
@click.option("--memory-mb", type=int, help="Address space of the server and each kernel.")
@click.option("--cpu-seconds", type=int, help="CPU time of the server and each kernel.")
@click.option("--idle-timeout", type=int, help="Seconds idle before it is stopped.")
@click.option("--restore", is_flag=True, help="Bring back the newest autosave of the branch.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def start_command(
    ctx: click.Context,
    name: str,
    branch: str | None,
    runbook: str | None,
    memory_mb: int | None,
    cpu_seconds: int | None,
    idle_timeout: int | None,
    restore: bool,
    as_json: bool,
) -> None:
    """Start session NAME on the server; options beyond the server's limits are refused."""
    chosen = {"memory_mb": memory_mb, "cpu_seconds": cpu_seconds, "idle_timeout": idle_timeout}
    body = {
        "name": name,
        "branch": branch,
        "runbook": runbook,
        "options": {k: v for k, v in chosen.items() if v is not None},
        "restore": restore,
    }
    record = _client(ctx).post("/sessions", body)
    print_json(record) if as_json else _show(record)


@sessions_group.command("stop")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def stop_command(ctx: click.Context, name: str, as_json: bool) -> None:
    """Stop session NAME; what it did not commit goes to an autosave branch."""
    record = _client(ctx).request("DELETE", f"/sessions/{name}")
    print_json(record) if as_json else _show(record)


@sessions_group.command("logs")
@click.argument("name")
@click.pass_context
def logs_command(ctx: click.Context, name: str) -> None:
    """The last lines of session NAME's Jupyter server log."""
    for line in _client(ctx).get(f"/sessions/{name}/logs")["lines"]:
        console.print(escape(line), highlight=False, soft_wrap=True)


@sessions_group.command("autosaves")
@click.option("--delete", "delete", metavar="NAME", help="Delete this autosave (its branch).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def autosaves_command(ctx: click.Context, delete: str | None, as_json: bool) -> None:
    """Your autosaves, newest first (or delete one)."""
    client = _client(ctx)
    if delete is not None:
        client.request("DELETE", f"/autosave/{delete}")
        say(f"deleted {escape(delete)}")
        return
    found = client.get("/autosave")
    if as_json:
        print_json(found)
        return
    for autosave in found:
        console.print(
            f"{escape(autosave['name'])}  from {escape(autosave['branch'])}  "
            f"{autosave['created_at']}",
            highlight=False,
        )
