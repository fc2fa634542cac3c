"""``runbook approve-standing`` and ``runbook standing list|show|revoke``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from runbook.cli.context import acting_user, as_option, json_option, repository, store_session
from runbook.cli.output import console, print_json, timestamp
from runbook.orchestrate.ssh_signatures import choose_key
from runbook.orchestrate.standing_approvals import revoke
from runbook.orchestrate.standing_grants import grant_standing, standing_summary
from runbook.store.standing import get_standing, list_standing


@click.command("approve-standing")
@click.argument("runbook_name", metavar="RUNBOOK")
@click.option(
    "--for",
    "callers",
    multiple=True,
    required=True,
    metavar="CALLER",
    help="Who may run it unattended: workflow:NAME, playbook:NAME or catalog:RULE (repeat).",
)
@click.option(
    "--bound",
    "bounds",
    multiple=True,
    metavar="NAME=BOUND",
    help="What a parameter may be: VALUE, A|B|C, ~REGEX (full match), LO..HI, or * for "
    "anything. Every parameter of the runbook needs one.",
)
@click.option(
    "--expires",
    default="30d",
    show_default=True,
    metavar="TTL",
    help="How long it stands: 36h, 30d, 8w (at most 366 days).",
)
@click.option(
    "--confirm-unattended",
    is_flag=True,
    help="Let confirm cells run with nobody there (without it, a confirm cell stops the run).",
)
@click.option(
    "--workflow",
    "is_workflow",
    is_flag=True,
    help="RUNBOOK names a workflow: approve its file, at its sha256, and its tasks' runbooks "
    "for its triggers (--for schedule:NAME / sensor:NAME), with a bound on each workflow "
    "parameter.",
)
@click.option("-m", "--comment", metavar="TEXT", help="Why, recorded with the approval.")
@as_option
@click.option(
    "--key",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Sign the approval with this SSH key, as `review --key` signs a verdict. Default "
    "where review.signed is on (where a signature is required): an agent key listed in "
    "allowed_signers, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa.",
)
@json_option
@click.pass_context
def approve_standing_command(
    ctx: click.Context,
    runbook_name: str,
    is_workflow: bool,
    callers: tuple[str, ...],
    bounds: tuple[str, ...],
    expires: str,
    confirm_unattended: bool,
    comment: str | None,
    as_user: str | None,
    key: Path | None,
    as_json: bool,
) -> None:
    """Approve RUNBOOK, as it is now, for unattended callers within bounds.

    A plan a named workflow or playbook makes of it is then approved without a person,
    as long as the runbook (and the repository code it can import) is unchanged, every
    value is inside its bound, and the approval has not expired or been revoked. Outside
    them the caller is refused, before anything runs, in one line naming what failed.

    With --workflow, RUNBOOK is a workflow's name: its schedule and sensor firings then run
    under the approval while the workflow file, its tasks' runbooks and the repository code
    are unchanged and its parameters inside their bounds.

    Where runbook.toml sets [review] signed = true, the approval is signed with your SSH key
    and you are the name allowed_signers lists for it, not what --as says.
    """
    repo = repository(ctx)
    reviewer = acting_user(as_user, repo)
    policy = repo.config.review
    signing = (
        choose_key(key, policy.allowed_signers or repo.root / "allowed_signers")
        if key is not None or policy.signed
        else None
    )
    with store_session(repo) as session:
        approval = grant_standing(
            session,
            repo,
            runbook_name,
            workflow=is_workflow,
            reviewer=reviewer,
            callers=callers,
            bounds=bounds,
            expires=expires,
            confirm_unattended=confirm_unattended,
            comment=comment,
            key=signing,
        )
    if as_json:
        print_json(standing_summary(approval))
        return
    console.print(
        f"{escape(approval.approved_by)} approved {approval.runbook_path} for "
        f"{', '.join(approval.callers)} until {timestamp(approval.expires_at)}: {approval.id}"
    )


@click.group("standing")
def standing_group() -> None:
    """Standing approvals: list, show and revoke them."""


@standing_group.command("list")
@click.option("--runbook", "runbook_path", metavar="PATH", help="Only those of this runbook.")
@json_option
@click.pass_context
def list_command(ctx: click.Context, runbook_path: str | None, as_json: bool) -> None:
    """List standing approvals, newest first (revoked and expired ones too)."""
    repo = repository(ctx)
    with store_session(repo) as session:
        approvals = list_standing(session, runbook_path=runbook_path)
    if as_json:
        print_json([standing_summary(a) for a in approvals])
        return
    table = Table("id", "runbook", "callers", "by", "expires", "state", box=None)
    for approval in approvals:
        state = f"revoked by {approval.revoked_by}" if approval.revoked_at else "standing"
        table.add_row(
            approval.id,
            escape(approval.runbook_path),
            escape(", ".join(approval.callers)),
            escape(approval.approved_by),
            timestamp(approval.expires_at),
            escape(state),
        )
    console.print(table)


@standing_group.command("show")
@click.argument("approval_id", metavar="ID")
@json_option
@click.pass_context
def show_command(ctx: click.Context, approval_id: str, as_json: bool) -> None:
    """Show a standing approval: its runbook and hash, callers, bounds, expiry."""
    repo = repository(ctx)
    with store_session(repo) as session:
        approval = get_standing(session, approval_id)
    summary = standing_summary(approval)
    if as_json:
        print_json(summary)
        return
    for key, value in summary.items():
        shown = value if not isinstance(value, dict | list) else value or "—"
        console.print(f"{key}: {escape(str(shown))}")


@standing_group.command("revoke")
@click.argument("approval_id", metavar="ID")
@as_option
@click.pass_context
def revoke_command(ctx: click.Context, approval_id: str, as_user: str | None) -> None:
    """Revoke a standing approval: plans it approved may no longer run."""
    repo = repository(ctx)
    by = acting_user(as_user, repo)
    with store_session(repo) as session:
        approval = revoke(session, approval_id, by=by)
    console.print(f"{approval.id} revoked by {escape(approval.revoked_by or by)}")
