"""``runbook audit verify``, ``runbook audit anchor`` and ``runbook audit log``."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from runbook.cli.context import acting_user, json_option, repository, store_session, store_sessions
from runbook.cli.output import console, print_json, say
from runbook.cli.types import PlanId
from runbook.orchestrate.reading import audit_subject, latest_events, tampered
from runbook.orchestrate.summaries import event_summary, verdict_summary

# Wide enough to tell events apart in a table; --json has the whole payload.
_SUMMARY_WIDTH = 80
_DIGEST_LENGTH = 64  # sha256 in hex


@click.group("audit")
def audit_group() -> None:
    """Read and check the tamper-evident audit log.

    Every plan, review and run step is recorded as an event holding the hash of the event
    before it, so any later change, removal or insertion breaks the chain.
    """


@audit_group.command("verify")
@json_option
@click.pass_context
def verify_command(ctx: click.Context, as_json: bool) -> None:
    """Check the audit log: its hash chain, its anchors and the records it describes.

    The chain must be unbroken; it must agree with every anchor in
    .runbook/audit-anchor.json and on the git ref refs/runbook/audit-anchor (which must
    agree with each other); and every plan, review, run, workflow run and playbook run
    must match its events. Exits 0 when all holds, 1 with one line per finding when not.
    """
    from runbook.orchestrate.audit_verify import verify_audit_log

    repo = repository(ctx)
    with store_sessions(repo) as sessions:
        verdict = verify_audit_log(sessions, repo)
    if as_json:
        print_json(verdict_summary(verdict))
    if not verdict.ok:
        raise tampered(verdict)
    if as_json:
        return
    console.print(f"audit log intact: {verdict.checked} {_plural(verdict.checked, 'event')}")
    newest = (
        f"newest: event {verdict.anchor.event_id} at "
        f"{verdict.anchor.anchored_at.astimezone():%Y-%m-%d %H:%M:%S}"
        if verdict.anchor
        else "none yet"
    )
    console.print(
        f"checked against {verdict.records} {_plural(verdict.records, 'record')} and "
        f"{verdict.anchors} {_plural(verdict.anchors, 'anchor')} ({newest})"
    )
    for note in verdict.notes:
        console.print(escape(note))


@audit_group.command("anchor")
@json_option
@click.pass_context
def anchor_command(ctx: click.Context, as_json: bool) -> None:
    """Record the audit log's newest event outside the database, now.

    Appends an anchor to .runbook/audit-anchor.json and, in a git repository, commits it
    on refs/runbook/audit-anchor (push that ref somewhere safe to keep it out of reach).
    Runs, workflow runs, playbook runs and `runbook gc` anchor when they end. Refuses,
    writing nothing, when the log does not follow from the last anchor.
    """
    from runbook.orchestrate.audit_anchor import anchor_audit

    repo = repository(ctx)
    with store_sessions(repo) as sessions:
        result = anchor_audit(
            sessions, repo, reason=f"runbook audit anchor by {acting_user(None, repo)}"
        )
    for warning in result.warnings:
        say(f"warning: {escape(warning)}")
    if as_json:
        print_json(
            {
                "anchored": result.created,
                "anchor": result.anchor.to_json() if result.anchor else None,
                "file": result.file,
                "ref": result.ref,
                "warnings": result.warnings,
            }
        )
        return
    if result.anchor is None:
        console.print("nothing to anchor: the audit log is empty")
        return
    places = result.file + (f" and {result.ref}" if result.ref else "")
    verb = "anchored the audit log" if result.created else "audit log already anchored"
    console.print(
        f"{verb} at event {result.anchor.event_id} ({result.anchor.count} "
        f"{_plural(result.anchor.count, 'event')}) in {escape(places)}"
    )


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else f"{noun}s"


@audit_group.command("log")
@click.option("--run", "run_id", metavar="RUN", help="Only the events of this run.")
@click.option("--plan", "plan_id", metavar="PLAN", type=PlanId(), help="Only this plan's events.")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Show the latest N events.",
)
@json_option
@click.pass_context
def log_command(
    ctx: click.Context, run_id: str | None, plan_id: str | None, limit: int, as_json: bool
) -> None:
    """Show the latest audit events, oldest first."""
    if run_id is not None and plan_id is not None:
        raise click.UsageError("give --run or --plan, not both", ctx)
    subject = audit_subject(run_id, plan_id)
    repo = repository(ctx)
    with store_session(repo) as session:
        events = latest_events(session, subject, limit)
    if as_json:
        print_json([event_summary(event) for event in events])
        return
    if not events:
        console.print(f"no audit events for {subject}" if subject else "no audit events yet")
        return
    table = Table("id", "time", "actor", "kind", "subject", "details", box=None)
    for event in events:
        table.add_row(
            str(event.id),
            event.at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            escape(event.actor),
            escape(event.kind),
            escape(event.subject),
            escape(payload_summary(event.payload)),
        )
    console.print(table)


def payload_summary(payload: dict[str, Any], width: int = _SUMMARY_WIDTH) -> str:
    """``key=value`` pairs of a payload on one line, cut to ``width`` characters.

    Digests are shortened to 12 characters, as elsewhere in the CLI.
    """
    text = ", ".join(f"{key}={_short(value)}" for key, value in payload.items())
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _short(value: Any) -> str:
    if not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if len(value) == _DIGEST_LENGTH and all(c in "0123456789abcdef" for c in value):
        return value[:12] + "…"
    return value
