"""Every error Runbook raises on purpose.

The tree::

    RunbookError
    ├── UsageError                  the request itself is wrong (CLI exit code 2)
    │   ├── NotARepositoryError     no runbook.toml here or above
    │   ├── PathEscapeError         a user path leaves the repository
    │   ├── UnknownRunbookError     no such runbook
    │   ├── UnknownPlanError        no such plan
    │   ├── UnknownRunError         no such run
    │   ├── UnknownWorkflowRunError no such workflow run
    │   ├── UnknownWorkflowError    no such workflow
    │   ├── UnknownPlaybookError    no such imported playbook (or version)
    │   ├── UnknownPlaybookRunError no such playbook run
    │   ├── UnknownTemplateError    no such template
    │   ├── ParameterError          a parameter name or value is invalid (also ValueError)
    │   └── IdentityError           an identity is empty or holds an unprintable character
    └── FailureError                a well-formed request could not be carried out (exit code 1)
        ├── NotebookFormatError     a notebook file is unreadable or malformed
        ├── MetadataError           metadata.runbook is malformed
        ├── SpecError               a workflow, playbook or catalog YAML is invalid (at a path)
        ├── ConfigError             runbook.toml or the environment is malformed
        ├── AlreadyExistsError      refusing to overwrite something
        ├── InjectionError          a generated parameters cell is not pure literals
        ├── ReportError             a report could not be rendered or printed (PDF needs Chromium)
        ├── PolicyError             refused by the repository's rules
        │   ├── SelfReviewError     the planner tried to review their own plan
        │   ├── ReviewRequiredError the plan needs an approval it does not have
        │   ├── PlanModifiedError   the plan no longer matches its recorded sha256
        │   ├── PlanUnreadableError the plan file is gone, or no longer a valid notebook
        │   ├── PlanCodeChangedError repository code the plan can import changed since planning
        │   ├── PlanFolderError     the plan's working directory is no longer a folder it may use
        │   ├── NotAPlanError       a runbook was given where only a plan may run
        │   ├── PlanRunningError    the plan is already running
        │   ├── TargetLockedError   a target is in use by another playbook run
        │   └── RunRefusedError     a run refused before it started (any of the above)
        ├── StoreError              the database could not be used
        │   └── StoreUnavailableError  it stayed unreachable through every retry
        ├── RunStoreLostError       a run ended interrupted: the store stopped taking its records
        ├── EgressError             an outbound HTTP request was refused or failed
        ├── DataSourceError         an inventory's or a sensor's source failed or answered badly
        └── AuditTamperedError      the audit log's chain, anchors or records disagree

Each leaf builds its message from structured fields, names the thing and the place, and
says how to fix it where there is a fix. Errors pickle (``__reduce__``) so they can cross
process boundaries unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit


class RunbookError(Exception):
    """Root of every error Runbook raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def lines(self) -> list[str]:
        """The error as stderr lines: one, unless the error is a list of problems."""
        return [self.message]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[RunbookError], message: str, state: dict[str, Any]) -> RunbookError:
    error = cls.__new__(cls)
    RunbookError.__init__(error, message)
    error.__dict__.update(state)
    return error


class UsageError(RunbookError):
    """The request itself is wrong: a bad name, value or path."""


class FailureError(RunbookError):
    """A well-formed request could not be carried out."""


class NotARepositoryError(UsageError):
    """No runbook repository was found."""

    def __init__(self, start: str) -> None:
        super().__init__(
            f"{start}: not inside a runbook repository (no runbook.toml here or in any parent); "
            "run `runbook init` first"
        )
        self.start = start


class PathEscapeError(UsageError):
    """A user-supplied path leaves the repository or is malformed."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path!r}: {reason}")
        self.path = path
        self.reason = reason


class UnknownRunbookError(UsageError):
    """No runbook answers to the given name or path."""

    def __init__(self, name: str, hint: str = "") -> None:
        message = f"{name}: no such runbook"
        super().__init__(f"{message} ({hint})" if hint else message)
        self.name = name


class UnknownPlanError(UsageError):
    """No plan has the given id."""

    def __init__(self, plan_id: str) -> None:
        super().__init__(f"{plan_id}: no such plan (see `runbook plans`)")
        self.plan_id = plan_id


class UnknownRunError(UsageError):
    """No run has the given id."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"{run_id}: no such run (see `runbook runs`)")
        self.run_id = run_id


class UnknownWorkflowRunError(UsageError):
    """No workflow run has the given id."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"{run_id}: no such workflow run (see `runbook workflow runs`)")
        self.run_id = run_id


class UnknownWorkflowError(UsageError):
    """No workflow of the repository has the given name."""

    def __init__(self, name: str, known: list[str], invalid: list[str] | None = None) -> None:
        listed = ", ".join(known) if known else "none; define them in workflows/*.yml"
        unread = f"; invalid, not read: {', '.join(invalid)}" if invalid else ""
        super().__init__(f"{name}: no such workflow (known: {listed}{unread})")
        self.name = name


class UnknownPlaybookError(UsageError):
    """No imported playbook has the given name (or version)."""

    def __init__(self, name: str, detail: str = "") -> None:
        hint = f" ({detail})" if detail else " (see `runbook playbook list`)"
        super().__init__(f"{name}: no such playbook{hint}")
        self.name = name


class UnknownPlaybookRunError(UsageError):
    """No playbook run has the given id."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"{run_id}: no such playbook run (see `runbook playbook runs`)")
        self.run_id = run_id


class UnknownTemplateError(UsageError):
    """No template has the given name."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"{name}: no such template (known: {', '.join(known) or 'none'})")
        self.name = name


class ParameterError(UsageError, ValueError):
    """A parameter name or value is invalid."""

    def __init__(self, name: str, reason: str, where: str = "") -> None:
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}parameter {name!r}: {reason}")
        self.name = name
        self.reason = reason
        self.where = where


class IdentityError(UsageError, ValueError):
    """An identity (``--as``, ``RUNBOOK_USER``, git's email…) is empty or not printable."""

    def __init__(self, where: str, identity: str, reason: str) -> None:
        super().__init__(
            f"{where} {identity!r} {reason}; give a name made of visible characters only"
        )
        self.where = where
        self.identity = identity
        self.reason = reason


class NotebookFormatError(FailureError):
    """A notebook file is unreadable or malformed."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: not a valid notebook: {reason}")
        self.path = path
        self.reason = reason


class MetadataError(FailureError):
    """``metadata.runbook`` of a notebook is malformed."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class SpecError(FailureError):
    """A workflow, playbook or catalog definition is invalid at ``where``.

    ``where`` is the path inside the document, e.g. ``workflows[0].notebooks.report.parameters.x``,
    optionally prefixed by the file name.
    """

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class ConfigError(FailureError):
    """Configuration (runbook.toml, environment, secret files) is malformed."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class AlreadyExistsError(FailureError):
    """Refusing to overwrite an existing file or record."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} already exists; refusing to overwrite it")
        self.what = what


class InjectionError(FailureError):
    """A generated parameters cell contains something other than literal assignments."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"refusing to inject parameters: {reason}")
        self.reason = reason


class ReportError(FailureError):
    """A run report could not be rendered or printed (e.g. no Chromium for PDF)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PolicyError(FailureError):
    """Refused by the repository's rules."""


class SelfReviewError(PolicyError):
    """The planner may not review their own plan."""

    def __init__(self, plan_id: str, planner: str, reviewer: str) -> None:
        super().__init__(
            f"plan {plan_id}: {planner} planned it, so {reviewer} may not review it; "
            "a second person must review (use --as or RUNBOOK_USER)"
        )
        self.plan_id = plan_id
        self.planner = planner
        self.reviewer = reviewer


class ReviewRequiredError(PolicyError):
    """The plan requires an approval it does not have."""

    def __init__(self, plan_id: str, reason: str) -> None:
        super().__init__(f"plan {plan_id}: {reason}")
        self.plan_id = plan_id
        self.reason = reason


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


class StoreError(FailureError):
    """The database could not be used."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"store: {reason}")
        self.reason = reason


class StoreUnavailableError(StoreError):
    """The store stayed unreachable (or kept failing transiently) for ``seconds``."""

    def __init__(self, reason: str, seconds: float) -> None:
        super().__init__(f"{reason} (still failing after {seconds:g} s of retries)")
        self.reason = reason
        self.seconds = seconds


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


class DataSourceError(FailureError):
    """A source a run reads its targets or dates from failed: an inventory command or server,
    a sensor's API, or its answer (not a configuration error: the configuration may be fine).
    """

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class RunStoreLostError(FailureError):
    """A run ended because the store stopped taking its records; its record will say
    ``interrupted`` (``runbook run`` exits 3, as for any interrupted run)."""

    def __init__(self, run_id: str, notebook_path: str, detail: str) -> None:
        super().__init__(
            f"run {run_id} interrupted: {detail}; the executed notebook so far is "
            f"{notebook_path}, and the run's record will say interrupted once the store is "
            "reachable again"
        )
        self.run_id = run_id
        self.notebook_path = notebook_path
        self.detail = detail


class AuditTamperedError(FailureError):
    """The audit log was tampered with: its hash chain is broken, it disagrees with its
    anchors, or the records disagree with it. ``findings`` lists every problem found (the
    first is ``reason``); each is one line on stderr."""

    def __init__(
        self, reason: str, first_bad_id: int | None, findings: list[str] | None = None
    ) -> None:
        self.findings = list(findings) if findings else [reason]
        more = len(self.findings) - 1
        super().__init__(f"audit log: {reason}" + (f" (and {more} more)" if more else ""))
        self.reason = reason
        self.first_bad_id = first_bad_id

    def lines(self) -> list[str]:
        """One line per finding."""
        return [f"audit log: {finding}" for finding in self.findings]


class EgressError(FailureError):
    """An outbound HTTP request was refused by the egress policy, or failed on the way.

    The URL is shown without its userinfo, query string and fragment (they often carry
    credentials), and ``refused`` tells a policy refusal from a network failure.
    """

    def __init__(self, url: str, reason: str, *, refused: bool = True) -> None:
        shown = redact_url(url)
        verdict = "refused by the egress policy: " if refused else ""
        super().__init__(f"{shown}: {verdict}{reason}")
        self.url = shown
        self.reason = reason
        self.refused = refused


def redact_url(url: str) -> str:
    """``url`` without userinfo, query string and fragment, safe to show in messages."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<unparsable URL>"
