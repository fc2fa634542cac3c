"""``runbook run`` on a server: start the run there, follow its events, answer its gates.

The run executes in the server's run process; this terminal prints its events as
``runbook log`` prints them and, at a confirm or manual gate, asks as the local terminal
does, the answer sent with ``POST /runs/{id}/gates/{cell}``. Ctrl-C asks the server to
interrupt the running cell (the run then waits at an interrupt gate, asked here too).
"""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.markup import escape

from runbook.cli.output import console, err_console, print_json
from runbook.cli.runs import render_event
from runbook.errors import FailureError
from runbook.model.cells import cell_label
from runbook.model.run import Decision
from runbook.orchestrate.remote_client import RemoteClient
from runbook.outcomes import STATE_EXIT_CODES

#: The answer --yes gives at each kind of gate; other gates stop the run, as locally.
_YES = {"confirm": Decision.YES, "manual": Decision.ACKNOWLEDGED}


def run_remote(
    client: RemoteClient,
    plan_id: str,
    *,
    yes: bool,
    dry_run: bool,
    interactive: bool | None,
    as_json: bool,
    timeout: float | None,
) -> int:
    """Start ``plan_id`` on the server and follow it to its end; the exit code of its state."""
    ask = (
        interactive
        if interactive is not None
        else (not yes and not as_json and sys.stdin.isatty() and sys.stdout.isatty())
    )
    body: dict[str, Any] = {"plan": plan_id, "mode": "dry-run" if dry_run else "interactive"}
    if timeout is not None:
        body["timeout"] = timeout
    run_id = str(client.post("/runs", body)["run"])
    shown = err_console if as_json else console
    finished: dict[str, Any] = {}
    last = 0
    events = client.events(run_id)
    while True:
        try:
            event = next(events, None)
        except KeyboardInterrupt:
            client.post(f"/runs/{run_id}/interrupt", {"reason": "Ctrl-C on the client"})
            events = client.events(run_id, after=last)
            continue
        if event is None:
            break
        last = int(event["seq"])
        if event["kind"] == "gate.waiting":
            decision = _decide(event, yes=yes, ask=ask)
            client.post(f"/runs/{run_id}/gates/{event['cell']}", {"decision": decision.value})
            continue
        if event["kind"] == "run.finished":
            finished = dict(event["data"])
        shown.print(render_event(event), highlight=False)
    if not finished:
        raise FailureError(f"run {run_id}: the server's stream ended before the run did")
    run = client.get(f"/runs/{run_id}")
    if as_json:
        print_json(
            {
                "run": run_id,
                "plan": run.get("plan"),
                "state": finished["state"],
                "message": finished.get("message"),
                "notebook": run.get("notebook"),
                "reports": [],
                "warnings": [],
            }
        )
    else:
        shown.print(f"notebook: {escape(str(run.get('notebook')))}")
        shown.print(f"log: runbook log {run_id}")
    return STATE_EXIT_CODES[finished["state"]]


#: What the terminal asks at each kind of gate, as the local terminal asks it.
_QUESTIONS: dict[str, tuple[str, dict[str, Decision]]] = {
    "confirm": (
        "Run this mutative step? [y]es / [s]kip / [a]bort / [r]ollback",
        {"y": Decision.YES, "s": Decision.SKIP, "a": Decision.ABORT, "r": Decision.ROLLBACK},
    ),
    "manual": (
        "Done? [y]es, done / [s]kip / [a]bort / [r]ollback",
        {
            "y": Decision.ACKNOWLEDGED,
            "s": Decision.SKIP,
            "a": Decision.ABORT,
            "r": Decision.ROLLBACK,
        },
    ),
}
_RECOVERY = (
    "[r]etry / [s]kip / [a]bort / roll[b]ack",
    {"r": Decision.RETRY, "s": Decision.SKIP, "a": Decision.ABORT, "b": Decision.ROLLBACK},
)


def _decide(event: dict[str, Any], *, yes: bool, ask: bool) -> Decision:
    data = event["data"]
    kind = str(data.get("kind", "confirm"))
    if yes and kind in _YES:
        return _YES[kind]
    if not ask:
        return Decision.ABORT
    source = data.get("source")
    if source:
        console.rule(f"{kind} gate at {cell_label(int(event['cell']))}")
        console.print(escape(str(source)), highlight=False)
    question, answers = _QUESTIONS.get(kind, _RECOVERY)
    try:
        answer = click.prompt(question, type=click.Choice(list(answers)), show_choices=False)
    except (click.Abort, EOFError):
        return Decision.ABORT
    return answers[answer]
