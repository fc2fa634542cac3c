"""``runbook review`` and ``runbook verify``."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from runbook.cli.context import acting_user, as_option, json_option, repository, store_session
from runbook.cli.output import console, print_json
from runbook.cli.plan import print_forced
from runbook.cli.remote import remote
from runbook.cli.render import render_diff, render_notebook
from runbook.cli.types import PlanId
from runbook.model.plan import Plan
from runbook.model.repository import Repository
from runbook.model.review import Verdict, signed_message
from runbook.model.working_dir import plan_cwd
from runbook.orchestrate.plan_code import ModuleStatus, module_statuses
from runbook.orchestrate.plan_diff import plan_diff
from runbook.orchestrate.plan_store import intact_plan_notebook
from runbook.orchestrate.planning import ensure_runnable, plan_readiness
from runbook.orchestrate.remote_client import RemoteClient
from runbook.orchestrate.review_trust import review_rules_now
from runbook.orchestrate.reviewing import review_plan
from runbook.orchestrate.ssh_signatures import choose_key, sign
from runbook.orchestrate.summaries import review_summary
from runbook.store.plans import get_plan
from runbook.store.reviews import list_reviews

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@click.command("review")
@click.option(
    "--approve", "verdict", flag_value=Verdict.APPROVED.value, help="Approve the plan as shown."
)
@click.option(
    "--reject",
    "verdict",
    flag_value=Verdict.REJECTED.value,
    help="Reject the plan: a veto, which later approvals do not override.",
)
@click.option(
    "--withdraw",
    "verdict",
    flag_value=Verdict.WITHDRAWN.value,
    help="Take back your earlier verdict on the plan (how a rejection is lifted).",
)
@click.option("-m", "--comment", metavar="TEXT", help="A comment recorded with the verdict.")
@click.option("--quiet", is_flag=True, help="Record the verdict without showing the plan.")
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Sign the verdict with this SSH key (private, or public with its private half in "
    "the ssh-agent). Default where review.signed is on: an agent key listed in "
    "allowed_signers, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa.",
)
@as_option
@json_option
@click.argument("plan_id", metavar="PLAN", type=PlanId())
@click.pass_context
def review_command(
    ctx: click.Context,
    verdict: str | None,
    comment: str | None,
    quiet: bool,
    key: Path | None,
    as_user: str | None,
    as_json: bool,
    plan_id: str,
) -> None:
    """Show PLAN for review and record a verdict bound to its sha256.

    Shows the rendered markdown, highlighted code, bound parameters, the confirm cells and
    the diff against the source runbook. With --approve or --reject the verdict is
    recorded; on a terminal without either you are asked. The planner may not review their
    own plan, and any later change to the plan voids the verdict. A rejection stands until
    its reviewer withdraws it (--withdraw) or the runbook is planned again; [review]
    approvals, reviewers, groups and tag.<tag> in runbook.toml say how many approvals a
    plan needs and from whom.

    Where runbook.toml sets [review] signed = true, the verdict is signed with your SSH key
    (ssh-keygen -Y sign) and you are the name allowed_signers lists for that key, not what
    --as says; --key signs in any repository.
    """
    client = remote(ctx, as_user)
    if client is not None:
        summary = _review_remote(client, plan_id, verdict, comment, key, as_json)
    else:
        summary = _review_here(ctx, plan_id, verdict, comment, quiet, key, as_user, as_json)
    if summary is None:
        return
    if as_json:
        print_json(summary)
        return
    signed = f", signed by {summary['signer_key']}" if summary["signer_key"] else ""
    console.print(
        f"{escape(str(summary['reviewer']))} {summary['verdict']} plan {summary['plan']} "
        f"(sha256 {str(summary['plan_sha256'])[:12]}…{signed})"
    )


def _review_here(
    ctx: click.Context,
    plan_id: str,
    verdict: str | None,
    comment: str | None,
    quiet: bool,
    key: Path | None,
    as_user: str | None,
    as_json: bool,
) -> dict[str, object] | None:
    repo = repository(ctx)
    reviewer = acting_user(as_user, repo)
    with store_session(repo) as session:
        plan = get_plan(session, plan_id)
        if not quiet and not as_json:
            show_plan_for_review(session, repo, plan)
            print_verdicts(session, repo, plan)
        if verdict is None and sys.stdin.isatty() and not as_json:
            verdict = _ask_verdict()
        if verdict is None:
            return None
        policy = repo.config.review
        signing = (
            choose_key(key, policy.allowed_signers or repo.root / "allowed_signers")
            if key is not None or policy.signed
            else None
        )
        review = review_plan(
            session,
            repo,
            plan.id,
            Verdict(verdict),
            reviewer=reviewer,
            comment=comment,
            key=signing,
        )
    return review_summary(review)


def _review_remote(
    client: RemoteClient,
    plan_id: str,
    verdict: str | None,
    comment: str | None,
    key: Path | None,
    as_json: bool,
) -> dict[str, object] | None:
    """The verdict sent to the server; signed here with ``key`` (the server checks the
    signature against its allowed signers: the private key never leaves this machine)."""
    if verdict is None and sys.stdin.isatty() and not as_json:
        verdict = _ask_verdict()
    if verdict is None:
        return None
    body: dict[str, object] = {"verdict": verdict, "comment": comment}
    if key is not None:
        plan = client.get(f"/plans/{plan_id}")
        nonce = secrets.token_hex(16)
        message = signed_message(plan["id"], plan["sha256"], Verdict(verdict), nonce)
        body |= {"nonce": nonce, "signature": sign(message, choose_key(key, key))}
        plan_id = plan["id"]
    return dict(client.post(f"/plans/{plan_id}/reviews", body))


def show_plan_for_review(session: Session, repo: Repository, plan: Plan) -> None:
    """Everything a reviewer needs to judge a plan, printed to the console.

    The notebook is the one kept in the store, verified (and cached under ``runs/plans/``):
    a reviewer on any machine of the store sees what will run.
    """
    notebook = intact_plan_notebook(session, repo, plan)
    console.rule(f"Plan {plan.id}: {escape(plan.title)}")
    console.print(
        f"runbook {plan.runbook_path}, planned by {escape(plan.planned_by)} at "
        f"{plan.planned_at.isoformat(timespec='seconds')}"
    )
    print_forced(plan)
    table = Table("parameter", "value", box=None)
    for name, value in plan.parameters.items():
        table.add_row(name, escape(repr(value)))
    console.print(table)
    console.print(f"working directory of the kernel: {escape(plan_cwd(plan))}")
    confirms = [
        str(i) for i, c in enumerate(notebook.cells) if "confirm" in c.metadata.get("tags", [])
    ]
    console.print(f"confirm cells (mutative, gated at run time): {', '.join(confirms) or 'none'}")
    print_modules(module_statuses(repo, plan))
    render_notebook(console, notebook)
    changes = plan_diff(session, repo, plan)
    if changes.against == "playbook":
        console.rule(f"Changes in newer imports of playbook {escape(changes.source)}")
        if not changes.lines:
            console.print(f"none: revision {changes.planned_revision} is the newest import")
            return
        console.print(
            f"the plan runs revision {changes.planned_revision}; revision "
            f"{changes.newest_revision} differs:"
        )
        for line in changes.lines:
            console.print(escape(line), highlight=False)
        return
    console.rule("Changes against the source runbook")
    if changes.unavailable is not None:
        console.print(f"[yellow]source runbook unavailable: {escape(changes.unavailable)}[/yellow]")
        return
    render_diff(console, changes.lines)


def print_verdicts(session: Session, repo: Repository, plan: Plan) -> None:
    """What the plan needs under the review rules, and the verdicts it has, with who made
    each and how that identity was established."""
    required, requirements = review_rules_now(repo, plan)
    console.rule("Review")
    if required:
        console.print("needs: " + "; ".join(escape(r.describe()) for r in requirements))
    else:
        console.print("needs: no review (review.require)")
    for review in list_reviews(session, plan.id):
        how = f"ssh-key {review.signer_key}" if review.signer_key else review.identity_kind.value
        comment = f": {escape(review.comment)}" if review.comment else ""
        console.print(f"{escape(review.reviewer)} {review.verdict.value} ({how}){comment}")
    readiness = plan_readiness(session, repo, plan)
    console.print(
        f"now: {readiness.status}" + (f" ({escape(readiness.reason)})" if readiness.reason else "")
    )


def print_modules(modules: list[ModuleStatus]) -> None:
    """The repository code the plan's cells can import, bound to the plan by sha256."""
    if not modules:
        console.print("repository code the cells can import: none")
        return
    console.print("repository code the cells can import (bound to this plan by sha256):")
    table = Table("module", "sha256", "since planning", box=None)
    for module in modules:
        state = module.state
        table.add_row(
            escape(module.path),
            (module.recorded or module.current or "")[:12],
            state if state == "unchanged" else f"[red]{state}[/red]",
        )
    console.print(table)


def _ask_verdict() -> str | None:
    answer = click.prompt(
        "[a]pprove, [r]eject or [q]uit without a verdict",
        err=True,
        type=click.Choice(["a", "r", "q"]),
        show_choices=False,
    )
    return {"a": Verdict.APPROVED.value, "r": Verdict.REJECTED.value}.get(answer)


@click.command("verify")
@json_option
@click.argument("plan_id", metavar="PLAN", type=PlanId())
@click.pass_context
def verify_command(ctx: click.Context, as_json: bool, plan_id: str) -> None:
    """Check that PLAN may run: its file matches its sha256 and its review policy is met.

    Exits 0 when it may run, 1 (with the reason) when it may not.
    """
    repo = repository(ctx)
    with store_session(repo) as session:
        plan = ensure_runnable(session, repo, plan_id)
        readiness = plan_readiness(session, repo, plan)
    cwd = plan_cwd(plan)
    if as_json:
        print_json({"plan": plan.id, "ready": True, "status": readiness.status, "cwd": cwd})
        return
    console.print(f"plan {plan.id} is ready to run ({readiness.status}) in {escape(cwd)}")
