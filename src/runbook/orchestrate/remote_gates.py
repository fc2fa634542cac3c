"""Gates of a run that has no terminal: recorded in the store, decided from anywhere.

A run started by the service has nobody at its terminal. At each gate its
:class:`RemoteOperator` records the wait in the store (the cell, the kind of gate, the
decisions it takes, and what a person at the terminal would see there: the cell's source,
the plan's values, masked, and after a failure its error) and waits until someone
authorized decides it with :func:`decide_gate`, from any process on the store. The engine
then records the decision exactly as a terminal's: the cell event's ``decided_by`` and the
audit's ``cell.decided``, made by whoever decided.

A runbook with ``metadata.runbook.gate = "other"`` (or a run requested with
``gate_by_other``) needs a decider other than the run's executor at every gate: four eyes at
every mutation. Names are compared as identities (NFKC and confusables, see
:func:`runbook.model.identity.same_identity`).

A ``cancel`` request (:mod:`runbook.orchestrate.run_controls`) answers a waiting gate with
``abort``, made by whoever cancelled.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from runbook.engine.hooks import RunContext, RunObserver, StopRun
from runbook.errors import GateDeciderError, GateNotWaitingError, UsageError
from runbook.model.cells import cell_label
from runbook.model.gates import GATE_OPTIONS, Gate, GateKind, RunEventKind
from runbook.model.identity import check_identity, same_identity
from runbook.model.injection import cell_tags
from runbook.model.plan_values import plan_values
from runbook.model.run import Decision, RunState
from runbook.orchestrate.live_events import EventObserver
from runbook.store.gates import (
    controls_after,
    get_gate,
    open_gate,
    record_decision,
    waiting_gate,
)
from runbook.store.live_wait import wait_for
from runbook.store.runs import get_run
from runbook.typing import Cell


def decide_gate(
    session: Session, run_id: str, cell: int | str, decision: Decision, by: str
) -> Gate:
    """Decide the gate run ``run_id`` waits at, at ``cell`` (its number or id), as ``by``.

    Raises UnknownRunError, GateNotWaitingError (no gate waits there: never opened, decided
    already, the run is over; HTTP 409), UsageError (a decision that does not answer this
    kind of gate) and GateDeciderError (the gate needs someone other than the executor).
    """
    by = check_identity(by, "decider")
    where = cell_label(cell) if isinstance(cell, int) else f"cell {cell}"
    run = get_run(session, run_id)
    if run.state.finished:
        raise GateNotWaitingError(run_id, where, f"the run is {run.state.value}")
    gate = waiting_gate(session, run_id)
    if gate is None or gate.id is None:
        raise GateNotWaitingError(run_id, where, "the run waits at no gate now")
    if cell not in (gate.cell_index, gate.cell_id):
        raise GateNotWaitingError(
            run_id, where, f"the run waits at {cell_label(gate.cell_index)} ({gate.kind.value})"
        )
    if decision not in gate.options:
        offered = ", ".join(o.value for o in gate.options)
        raise UsageError(
            f"run {run_id}: {decision.value} does not answer the {gate.kind.value} gate at "
            f"{where} (one of: {offered})"
        )
    if gate.by_other and same_identity(by, gate.executor):
        raise GateDeciderError(run_id, where, by)
    if not record_decision(session, gate.id, decision, by):
        raise GateNotWaitingError(run_id, where, "it was decided already")
    decided = get_gate(session, gate.id)
    assert decided is not None  # noqa: S101 - just updated in this transaction
    return decided


class RemoteOperator(RunObserver):
    """Decides nothing itself: records each gate in the store and waits for its decision.

    Also an observer (pass it among the run's observers): it learns the notebook, the plan's
    values and the masker when the run starts, and ends the run before a cell when it was
    cancelled. ``name`` and ``recovery_by`` are whoever decided the last gate (the executor
    before any), which is what the engine records with each decision.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        executor: str,
        events: EventObserver,
        *,
        by_other: bool = False,
        poll: float = 0.1,
    ) -> None:
        self._sessions = sessions
        self._executor = executor
        self._events = events
        self._by_other = by_other
        self._poll = poll
        self._decider = executor
        self._ctx: RunContext | None = None
        self._values: list[dict[str, Any]] = []

    @property
    def name(self) -> str:
        """Who decided the last gate."""
        return self._decider

    @property
    def recovery_by(self) -> str:
        """Who decided what follows a failure: a person, at its gate."""
        return self._decider

    def run_started(self, ctx: RunContext) -> None:
        self._ctx = ctx
        meta = ctx.notebook.metadata.get("runbook", {})
        self._by_other = self._by_other or (isinstance(meta, dict) and meta.get("gate") == "other")
        self._values = [
            {"name": v.name, "text": ctx.masker.mask(v.text), "secret": v.secret}
            for v in plan_values(ctx.notebook)
        ]

    def cell_started(self, ctx: RunContext, index: int, cell: Cell) -> None:
        cancelled = self._cancelled_by()
        if cancelled is not None:
            raise StopRun(RunState.ABORTED, f"cancelled by {cancelled} before {cell_label(index)}")

    def confirm(self, index: int, cell: Cell) -> Decision:
        """Wait for a decision on the confirm gate."""
        return self._ask(index, cell, GateKind.CONFIRM)

    def acknowledge(self, index: int, cell: Cell) -> Decision:
        """Wait for a decision on the manual step."""
        return self._ask(index, cell, GateKind.MANUAL)

    def on_failure(self, index: int, cell: Cell, error: str) -> Decision:
        """Wait for a decision after a failing cell."""
        return self._ask(index, cell, GateKind.FAILURE, error)

    def on_interrupt(self, index: int, cell: Cell) -> Decision:
        """Wait for a decision after an interrupted cell."""
        return self._ask(index, cell, GateKind.INTERRUPT)

    def _ask(self, index: int, cell: Cell, kind: GateKind, error: str | None = None) -> Decision:
        ctx = self._ctx
        if ctx is None:
            raise RuntimeError("the remote operator was not told the run (pass it as observer)")
        cancelled = self._cancelled_by()
        if cancelled is not None:  # e.g. interrupted to cancel: nobody is asked
            self._decider = cancelled
            return Decision.ABORT
        total = len(ctx.notebook.cells)
        view = {
            "label": cell_label(index, total),
            "source": ctx.masker.mask(cell.source),
            "cell_type": cell.cell_type,
            "tags": list(cell_tags(cell)),
            "values": self._values,
            "error": error,
        }
        gate = Gate(
            run_id=ctx.run.id,
            cell_index=index,
            kind=kind,
            options=GATE_OPTIONS[kind],
            view=view,
            executor=self._executor,
            opened_at=datetime.now(UTC),
            cell_id=cell.get("id"),
            by_other=self._by_other,
        )
        with self._sessions.begin() as session:
            gate_id = open_gate(session, gate)
        waiting = {
            "kind": kind.value,
            "options": [o.value for o in gate.options],
            "by_other": self._by_other,
            "gate": gate_id,
            **view,
        }
        self._events.write(RunEventKind.GATE_WAITING, waiting, index)
        decided = wait_for(self._sessions, lambda s: self._answer(s, gate_id), poll=self._poll)
        assert decided is not None  # noqa: S101 - waited without a timeout
        decision, by = decided
        self._decider = by
        return decision

    def _answer(self, session: Session, gate_id: int) -> tuple[Decision, str] | None:
        """The gate's decision once made; a cancel aborts it; a swept run stops here."""
        gate = get_gate(session, gate_id)
        if gate is not None and gate.decision is not None and gate.decided_by is not None:
            return gate.decision, gate.decided_by
        cancelled = self._cancelled_by(session)
        if cancelled is not None:
            record_decision(session, gate_id, Decision.ABORT, cancelled)
            session.commit()
            return Decision.ABORT, cancelled
        run = get_run(session, self._run_id)
        if run.state.finished:  # marked interrupted meanwhile: the lease is gone
            raise StopRun(RunState.INTERRUPTED, f"the run was marked {run.state.value}")
        return None

    @property
    def _run_id(self) -> str:
        if self._ctx is None:
            raise RuntimeError("the remote operator was not told the run")
        return self._ctx.run.id

    def _cancelled_by(self, session: Session | None = None) -> str | None:
        if self._ctx is None:
            return None
        if session is None:
            with self._sessions() as own:
                return self._cancelled_by(own)
        for _, kind, by in controls_after(session, self._run_id, 0):
            if kind == "cancel":
                return by
        return None
