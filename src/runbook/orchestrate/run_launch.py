"""A run's processes, started before its checks so that their start-up overlaps them.

A kernel takes most of a second to boot, and the report worker about as long to import
nbconvert, each in a process of its own. :func:`launch_early` starts both first; the caller
then imports, checks policy and opens the store meanwhile, so those costs overlap instead of
adding up. This module imports only what the launch needs (jupyter_client, through
:mod:`runbook.engine.launch`), so that a caller can launch before it imports the rest of the
engine and the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from runbook.engine.launch import RunKernelManager, discard_kernel, launch_for_plan
from runbook.model.files import FileText
from runbook.model.ids import IdKind, is_id, plan_file
from runbook.model.repository import Repository
from runbook.model.run import new_run_id
from runbook.orchestrate.reporting import ReportWriter


@dataclass(frozen=True)
class EarlyRun:
    """A run whose id is chosen and whose processes are starting, not yet admitted."""

    run_id: str
    #: Its kernel, booting; None when the plan file could not say which kernel or folder.
    kernel: RunKernelManager | None
    reports: ReportWriter
    #: The plan file as read for the launch, which the checks then verify: read once.
    plan_file: FileText | None = None

    def discard(self) -> None:
        """Stop what was started: the run was refused."""
        self.reports.discard()
        self.discard_kernel()

    def discard_kernel(self) -> None:
        """Stop the kernel (the verified plan asks for another kernel or folder)."""
        if self.kernel is not None:
            discard_kernel(self.kernel)


def launch_early(repository: Repository, plan_id: str, *, dry_run: bool) -> EarlyRun:
    """Boot the kernel the plan file ``plan_id`` asks for, then start the report worker.

    The kernel runs nothing until the checks pass (``orchestrate.running.start_run`` stops
    it when they fail, or starts another when the verified plan asks for another kernel or
    folder). No kernel is launched when ``plan_id`` is not a plan id or its file cannot say
    which kernel or folder: the checks that follow say why.
    """
    run_id = new_run_id()
    kernel = None
    read = _read_plan(repository, plan_id) if is_id(IdKind.PLAN, plan_id) else None
    if read is not None:
        kernel = launch_for_plan(
            repository, read.text, run_id=run_id, plan_id=plan_id, dry_run=dry_run
        )
    # After the kernel: its boot is on the run's critical path, the worker's warm-up is not.
    reports = ReportWriter(repository)
    return EarlyRun(run_id, kernel, reports, read)


def _read_plan(repository: Repository, plan_id: str) -> FileText | None:
    path = plan_file(repository, plan_id)
    try:
        return FileText(path, path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):  # the checks read it again, and say why it fails
        return None
