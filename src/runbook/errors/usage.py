"""Usage errors: the request itself is wrong (a bad name, value or path)."""

from __future__ import annotations

from runbook.errors.base import UsageError


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


class UnknownStandingApprovalError(UsageError):
    """No standing approval has the given id."""

    def __init__(self, approval_id: str) -> None:
        super().__init__(f"{approval_id}: no such standing approval (see `runbook standing list`)")
        self.approval_id = approval_id


class UnknownRunError(UsageError):
    """No run has the given id."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"{run_id}: no such run (see `runbook runs`)")
        self.run_id = run_id


class UnknownArtifactError(UsageError):
    """A run has no such artifact (executed notebook, log or report) in the artifact store."""

    def __init__(self, run_id: str, name: str) -> None:
        super().__init__(f"run {run_id}: no {name} stored (not executed by a server, or removed)")
        self.run_id = run_id
        self.name = name


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


class PlaybookPlanError(UsageError):
    """A playbook's plan was given where a runbook's plan runs (``runbook run``)."""

    def __init__(self, plan_id: str) -> None:
        super().__init__(
            f"plan {plan_id} is a playbook's plan: run it with `runbook playbook run --plan "
            f"{plan_id}`"
        )
        self.plan_id = plan_id


class UnknownCatalogEntryError(UsageError):
    """No such service or error code in the imported catalog, or no catalog imported yet."""

    def __init__(self, what: str, hint: str = "see `runbook catalog list`") -> None:
        super().__init__(f"{what}: not in the catalog ({hint})")
        self.what = what
        self.hint = hint


class AlertPayloadError(UsageError):
    """An alert payload is malformed at ``field``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"alert payload: {field}: {reason}")
        self.field = field
        self.reason = reason
