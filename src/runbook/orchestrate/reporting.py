"""Writing a run's reports without making the run wait for nbconvert.

Rendering HTML costs about a second of CPU (imports and template compilation), which a thread
cannot overlap with the run: the GIL serialises it. So a worker process is started with the
run and warms up on another core while the kernel works; at the end it only renders. If the
worker cannot be used, the reports are rendered here. A report that fails is a warning, never
a failed run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from runbook.model.report_record import ReportRecord, record_to_json
from runbook.model.repository import Repository
from runbook.model.run import CellEvent, Run, event_to_json, run_to_json
from runbook.typing import Notebook

WORKER_TIMEOUT = 300.0


class ReportWriter:
    """The configured reports of one run, written by :meth:`write` once it has ended.

    A worker that is never asked (the run raised) reads end-of-input when this process exits
    and stops by itself.
    """

    def __init__(self, repository: Repository) -> None:
        self._repository = repository
        self._formats = list(repository.config.report_formats)
        self._worker: subprocess.Popen[str] | None = None
        if self._formats:
            try:
                self._worker = subprocess.Popen(
                    [sys.executable, "-m", "runbook.engine.report_worker"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            except OSError:
                self._worker = None

    def write(
        self,
        run: Run,
        events: list[CellEvent],
        notebook: Notebook,
        record: ReportRecord | None = None,
    ) -> tuple[list[str], list[str]]:
        """Write the reports; returns (paths relative to the repository, warnings).

        ``record`` is the plan and approval behind the run (see
        :func:`runbook.orchestrate.report_records.report_record`).
        """
        if not self._formats:
            return [], []
        request = {
            "root": str(self._repository.root),
            "run": run_to_json(run),
            "events": [event_to_json(e) for e in events],
            "notebook": notebook,
            "formats": self._formats,
            "record": record_to_json(record) if record is not None else None,
        }
        answer = self._ask_worker(json.dumps(request))
        if answer is None:
            return self._write_here(run, events, notebook, record)
        paths = [self._repository.relative(self._repository.root / p) for p in answer["reports"]]
        return paths, list(answer["warnings"])

    def discard(self) -> None:
        """Stop the worker unasked (the run did not start).

        It holds nothing but warm imports, so it is killed rather than waited for: a refused
        run should not wait for nbconvert to finish importing. It is reaped here, so no
        process outlives the refusal.
        """
        worker, self._worker = self._worker, None
        if worker is None:
            return
        worker.kill()
        worker.communicate()

    def _ask_worker(self, request: str) -> dict[str, Any] | None:
        worker, self._worker = self._worker, None
        if worker is None:
            return None
        try:
            out, _ = worker.communicate(request, timeout=WORKER_TIMEOUT)
            answer = json.loads(out) if worker.returncode == 0 else None
        except (OSError, ValueError, subprocess.TimeoutExpired):
            worker.kill()
            worker.communicate()
            return None
        return answer if isinstance(answer, dict) else None

    def _write_here(
        self,
        run: Run,
        events: list[CellEvent],
        notebook: Notebook,
        record: ReportRecord | None,
    ) -> tuple[list[str], list[str]]:
        from runbook.engine.report import write_run_reports  # nbconvert: only when reporting

        root = self._repository.root
        written, warnings = write_run_reports(root, run, events, notebook, self._formats, record)
        return [self._repository.relative(p) for p in written], warnings
