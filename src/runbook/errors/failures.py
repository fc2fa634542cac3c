"""Failures: a well-formed request that could not be carried out (files, store, sources)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from runbook.errors.base import FailureError


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


class GateNotWaitingError(FailureError):
    """A decision for a gate that is not waiting: never opened, already decided, or its run
    is over (HTTP 409: the state changed under the caller)."""

    def __init__(self, run_id: str, cell: str, reason: str) -> None:
        super().__init__(f"run {run_id}: no gate is waiting at {cell}: {reason}")
        self.run_id = run_id
        self.cell = cell
        self.reason = reason


class RunNotRunningError(FailureError):
    """A request (cancel, interrupt) to a run that is not running (HTTP 409)."""

    def __init__(self, run_id: str, state: str) -> None:
        super().__init__(f"run {run_id} is {state}, not running: nothing to stop")
        self.run_id = run_id
        self.state = state


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
