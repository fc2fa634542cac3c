"""Operators that need no person: flags standing in for the answers at each gate."""

from __future__ import annotations

from runbook.engine.executor import StopRun
from runbook.model.cells import cell_label
from runbook.model.run import AUTOMATIC_DECIDER, Decision, RunState
from runbook.typing import Cell


class AutomaticOperator:
    """Non-interactive runs: ``--yes`` confirms and acknowledges; without it a gate stops.

    A failing or interrupted cell ends the run: nobody is there to choose a retry, so that
    choice is recorded as automatic, not as the user's (``--yes`` answered the gates only).
    """

    def __init__(self, user: str, *, yes: bool) -> None:
        self._user = user
        self._yes = yes

    @property
    def name(self) -> str:
        """Gate answers (given in advance by ``--yes``) are recorded as the executing user's."""
        return self._user

    @property
    def recovery_by(self) -> str:
        """Nobody chose what follows a failure: a rule did."""
        return AUTOMATIC_DECIDER

    def confirm(self, index: int, cell: Cell) -> Decision:
        """YES with ``--yes``; otherwise the run stops before the mutative step."""
        if self._yes:
            return Decision.YES
        raise StopRun(
            RunState.ABORTED,
            f"{cell_label(index)} is tagged confirm and needs an explicit "
            f"yes: run interactively or with --yes (resume with --from {index})",
        )

    def acknowledge(self, index: int, cell: Cell) -> Decision:
        """ACKNOWLEDGED with ``--yes``; otherwise the run stops at the manual step."""
        if self._yes:
            return Decision.ACKNOWLEDGED
        raise StopRun(
            RunState.ABORTED,
            f"{cell_label(index)} is a manual step that a person must "
            f"acknowledge: run interactively or with --yes (resume with --from {index})",
        )

    def on_failure(self, index: int, cell: Cell, error: str) -> Decision:
        """The run fails."""
        return Decision.ABORT

    def on_interrupt(self, index: int, cell: Cell) -> Decision:
        """The run is aborted."""
        return Decision.ABORT
