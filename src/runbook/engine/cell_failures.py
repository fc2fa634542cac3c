"""How a code cell did not succeed, as the cell loop tells it (:mod:`runbook.engine.executor`)."""

from __future__ import annotations

from dataclasses import dataclass

from runbook.model.cells import cell_label


@dataclass(frozen=True)
class Failure:
    """Why a code cell did not succeed. ``text`` is masked: ``Name: value`` of its error, or
    ``timed out after S s``."""

    text: str
    #: SystemExit with code 0 or none: the run ends here, succeeded (papermill's rule).
    exit: bool = False
    timed_out: bool = False
    #: Still busy after the interrupt that followed its timeout: no cell can run after it.
    stuck: bool = False

    def ending(self) -> str:
        """How the cell ended, after ``cell N``, for the run's message."""
        if self.timed_out:
            return self.text + ("; the kernel did not stop when interrupted" if self.stuck else "")
        return f"failed: {self.text}"


def clean_exit(ename: str, evalue: str) -> bool:
    """Whether an error raised by a cell is a clean ``SystemExit``: the run succeeds."""
    # Papermill's rule (execute.raise_for_execution_errors): sys.exit(), sys.exit(0) and a
    # bare `raise SystemExit` succeed; any other code or message fails the run.
    return ename == "SystemExit" and evalue in ("", "0")


def timed_out(seconds: float, *, stuck: bool = False) -> Failure:
    """A cell past its timeout; ``stuck`` when it went on after the interrupt."""
    return Failure(f"timed out after {seconds:g} s", timed_out=True, stuck=stuck)


def exit_message(index: int, failure: Failure) -> str:
    """Where and why a clean SystemExit ended the run, for its record and report."""
    raised = failure.text.removesuffix(": ")
    return f"{cell_label(index)} ended the run with {raised}; the cells after it were not run"
