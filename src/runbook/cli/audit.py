"""``runbook audit verify`` and ``runbook audit log``."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from runbook.cli.context import json_option, repository, store_session
from runbook.cli.output import console, print_json
from runbook.cli.types import PlanId
from runbook.errors import AuditTamperedError
from runbook.model.audit import AuditEvent, plan_subject, run_subject
from runbook.store.audit import list_events, verify_audit

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
    """Check the audit log's hash chain from its first event to its last.

    Exits 0 when it is intact, 1 (naming the first bad event) when it is not.
    """
    repo = repository(ctx)
    with store_session(repo) as session:
        report = verify_audit(session)
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "checked": report.checked,
                "first_bad_id": report.first_bad_id,
                "reason": report.reason,
            }
        )
    if not report.ok:
        raise AuditTamperedError(report.reason, report.first_bad_id)
    if not as_json:
        noun = "event" if report.checked == 1 else "events"
        console.print(f"audit log intact: {report.checked} {noun}")


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
    subject = (
        run_subject(run_id)
        if run_id is not None
        else plan_subject(plan_id)
        if plan_id is not None
        else None
    )
    repo = repository(ctx)
    with store_session(repo) as session:
        events = list_events(session, subject=subject, limit=limit, newest_first=True)
    events.reverse()
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


def event_summary(event: AuditEvent) -> dict[str, Any]:
    """The JSON form of an audit event."""
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "kind": event.kind,
        "subject": event.subject,
        "payload": event.payload,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


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
