"""Policy errors: refused by the repository's rules, and refusals of a run as it starts."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from runbook.errors.base import FailureError


class PolicyError(FailureError):
    """Refused by the repository's rules."""


class SelfReviewError(PolicyError):
    """The planner may not review their own plan."""

    def __init__(self, plan_id: str, planner: str, reviewer: str, *, by_key: bool = False) -> None:
        how = "with their own key" if by_key else "(use --as or RUNBOOK_USER)"
        super().__init__(
            f"plan {plan_id}: {planner} planned it, so {reviewer} may not review it; "
            f"a second person must review {how}"
        )
        self.plan_id = plan_id
        self.planner = planner
        self.reviewer = reviewer


class NothingToWithdrawError(PolicyError):
    """A withdrawal by a reviewer who has no standing verdict on the plan."""

    def __init__(self, plan_id: str, reviewer: str) -> None:
        super().__init__(f"plan {plan_id}: {reviewer} has no standing verdict on it to withdraw")
        self.plan_id = plan_id
        self.reviewer = reviewer


class StandingRefusedError(PolicyError):
    """An unattended caller's plan is not approved by any standing approval."""

    def __init__(self, runbook: str, caller: str, reason: str) -> None:
        super().__init__(f"{runbook}: {caller} may not run it unattended: {reason}")
        self.runbook = runbook
        self.caller = caller
        self.reason = reason


class SignatureError(PolicyError):
    """A review's SSH signature is missing, invalid, or by a key the repository does not list."""


class ReviewRequiredError(PolicyError):
    """The plan requires an approval it does not have."""

    def __init__(self, plan_id: str, reason: str) -> None:
        super().__init__(f"plan {plan_id}: {reason}")
        self.plan_id = plan_id
        self.reason = reason


class PlaybookReviewError(PolicyError):
    """A playbook that needs review was run without an approved plan of it."""

    def __init__(self, playbook: str) -> None:
        super().__init__(
            f"playbook {playbook} needs review (review.require and its tags): plan it with "
            f"`runbook playbook plan {playbook}`, have the plan approved, then "
            "`runbook playbook run --plan PLAN`"
        )
        self.playbook = playbook


class CheckFailedError(PolicyError):
    """``runbook check`` finds errors in the runbook being planned, and ``--force`` was not
    given. ``where`` is the first error's place (``cell 3`` or ``notebook``), ``count`` how
    many errors there are."""

    def __init__(self, runbook: str, where: str, code: str, reason: str, count: int) -> None:
        more = f" (and {count - 1} more error(s))" if count > 1 else ""
        super().__init__(
            f"{runbook}: {where}: {code}: {reason}{more}; see `runbook check {runbook}`, fix "
            "it, or plan with --force (recorded on the plan, which then always needs review)"
        )
        self.runbook = runbook
        self.where = where
        self.code = code
        self.reason = reason
        self.count = count


class PlanModifiedError(PolicyError):
    """The plan's content no longer matches the sha256 recorded when it was planned."""

    def __init__(self, plan_id: str, path: str, expected: str, actual: str) -> None:
        super().__init__(
            f"plan {plan_id}: {path} was modified after planning "
            f"(sha256 {actual[:12]}… != recorded {expected[:12]}…); any review of it is void; "
            "plan the runbook again"
        )
        self.plan_id = plan_id
        self.path = path
        self.expected = expected
        self.actual = actual


class PlanUnreadableError(PolicyError):
    """The plan's file cannot be read or is not a valid notebook: its content is unknown."""

    def __init__(self, plan_id: str, path: str, reason: str) -> None:
        super().__init__(
            f"plan {plan_id}: {path} cannot be read as the plan: {reason}; "
            "any review of it is void; plan the runbook again"
        )
        self.plan_id = plan_id
        self.path = path
        self.reason = reason


class PlanCodeChangedError(PolicyError):
    """A module the plan's kernel can import from the repository changed since planning."""

    def __init__(self, plan_id: str, changes: list[str]) -> None:
        shown = ", ".join(changes[:5]) + (
            f" and {len(changes) - 5} more" if len(changes) > 5 else ""
        )
        super().__init__(
            f"plan {plan_id}: repository code it can import differs from what was planned "
            f"and reviewed: {shown}; any review of it is void; plan the runbook again"
        )
        self.plan_id = plan_id
        self.changes = changes


class PlanFolderError(PolicyError):
    """The working directory a plan recorded is gone, or is no longer one it may run in."""

    def __init__(self, plan_id: str, cwd: str, reason: str) -> None:
        super().__init__(
            f"plan {plan_id}: its working directory {cwd!r} {reason}; plan the runbook again"
        )
        self.plan_id = plan_id
        self.cwd = cwd
        self.reason = reason


class NotAPlanError(PolicyError):
    """Only plans run: a runbook (or anything else) was named instead."""

    def __init__(self, name: str, runbook: str | None) -> None:
        hint = (
            (
                f"{name} is a runbook, not a plan: only plans run; plan it first with "
                f"`runbook plan {runbook}`"
            )
            if runbook
            else f"{name}: no such plan"
        )
        super().__init__(hint)
        self.name = name
        self.runbook = runbook


class PlanRunningError(PolicyError):
    """Another run of the same plan holds its run lock."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{detail}; wait for it, or check `runbook runs`")
        self.detail = detail


class GateDeciderError(PolicyError):
    """The gate needs a decider other than the run's executor (``metadata.runbook.gate``)."""

    def __init__(self, run_id: str, cell: str, decider: str) -> None:
        super().__init__(
            f"run {run_id}: the gate at {cell} must be decided by someone other than its "
            f'executor {decider} (the runbook sets gate = "other")'
        )
        self.run_id = run_id
        self.cell = cell
        self.decider = decider


class TargetLockedError(PolicyError):
    """A target the run needs is held by another running playbook run."""

    def __init__(self, target: str, holder: str, playbook: str) -> None:
        super().__init__(
            f"target {target} is in use by playbook run {holder} ({playbook}); wait for it "
            f"to end or cancel it with `runbook playbook cancel {holder}`"
        )
        self.target = target
        self.holder = holder
        self.playbook = playbook


class RunRefusedError(PolicyError):
    """A run (of a plan, or a playbook run) was refused before it started, for ``cause``.

    Raised by the use cases that start runs, so that every caller tells a refusal at the
    start (``runbook run`` exit 4) from the same rule failing elsewhere (``review``: exit 1).
    """

    def __init__(self, cause: PolicyError) -> None:
        super().__init__(str(cause))
        self.cause = cause

    def lines(self) -> list[str]:
        """The cause's lines."""
        return self.cause.lines()


Starter = TypeVar("Starter", bound=Callable[..., Any])


def refuses_runs(starter: Starter) -> Starter:
    """Make a use case that starts a run raise RunRefusedError for the rules it breaks."""

    @functools.wraps(starter)
    def start(*args: Any, **kwargs: Any) -> Any:
        try:
            return starter(*args, **kwargs)
        except RunRefusedError:
            raise
        except PolicyError as refusal:
            raise RunRefusedError(refusal) from refusal

    return cast(Starter, start)
