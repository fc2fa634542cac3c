"""``runbook edit``: JupyterLab on the repository (``orchestrate.sessions``), in a browser."""

from __future__ import annotations

import os
import signal
import sys
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from urllib.parse import quote

import click
from rich.markup import escape

from runbook.cli.context import repository
from runbook.cli.output import say
from runbook.cli.types import RunbookName
from runbook.orchestrate.sessions import LabServer


class _Stop(Exception):
    """SIGTERM arrived: stop the server as for Ctrl-C."""


@contextmanager
def _sigterm_stops() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the stop short
        raise _Stop

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _browser_likely() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or (
        sys.platform == "darwin"
    )


def _open_in_browser(server: LabServer, url: str) -> None:
    # Like Jupyter: the browser gets a private redirect file, so the token stays off its argv.
    redirect = server.runtime / "open.html"
    quoted = url.replace("&", "&amp;").replace('"', "&quot;")
    redirect.write_text(
        f'<!DOCTYPE html><meta http-equiv="refresh" content="0;url={quoted}">', encoding="utf-8"
    )
    redirect.chmod(0o600)
    webbrowser.open(redirect.as_uri())


@click.command("edit")
@click.argument("runbook", required=False, type=RunbookName())
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option("--no-browser", is_flag=True, help="Print the URL only; do not open a browser.")
@click.pass_context
def edit_command(ctx: click.Context, runbook: str | None, port: int, no_browser: bool) -> None:
    """Edit runbooks in JupyterLab, on 127.0.0.1 with a fresh token; Ctrl-C stops it.

    With RUNBOOK, the URL printed opens that runbook; otherwise the repository root.
    """
    repo = repository(ctx)
    target = repo.find_runbook(runbook, base=Path.cwd()) if runbook else None
    path = "/lab/tree/" + quote(repo.relative(target)) if target else "/lab"
    interrupted = False
    with _sigterm_stops():
        server = LabServer(repo.root, port)
        for warning in server.warnings:
            say(f"warning: {escape(warning)}")
        try:
            server.wait_ready()
            url = server.url(path)
            print(url, flush=True)
            say(
                f"JupyterLab serves {escape(str(repo.root))} on 127.0.0.1:{server.port}; "
                "Ctrl-C stops it"
            )
            if not no_browser and _browser_likely():
                _open_in_browser(server, url)
            server.process.wait()
            raise server.died()
        except (KeyboardInterrupt, _Stop):
            interrupted = True
        finally:
            server.stop()
    if interrupted:
        say("stopped")
