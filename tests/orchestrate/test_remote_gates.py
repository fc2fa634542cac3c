"""Deciding a gate through the store: who may, what answers it, and deciding it only once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from runbook.config import database_url
from runbook.errors import (
    GateDeciderError,
    GateNotWaitingError,
    RunNotRunningError,
    UsageError,
)
from runbook.model.gates import GATE_OPTIONS, Gate, GateKind, RunEventKind, parse_cell
from runbook.model.repository import Repository
from runbook.model.run import Decision, Run, RunMode, RunState
from runbook.orchestrate.remote_gates import decide_gate
from runbook.orchestrate.run_controls import ControlKind, request_control
from runbook.outcomes import status_of
from runbook.store.db import ensure_schema, make_engine
from runbook.store.gates import controls_after, open_gate, waiting_gate
from runbook.store.run_events import append_run_event, events_after
from runbook.store.runs import create_run, finish_run
from tests.orchestrate.live import make_plan


@pytest.fixture
def sessions(repo: Repository) -> sessionmaker[Session]:
    engine = make_engine(database_url(repo.root))
    ensure_schema(engine)
    return sessionmaker(engine)


@pytest.fixture
def run_id(repo: Repository, sessions: sessionmaker[Session]) -> str:
    """A running run of a plan, as its process records it."""
    plan_id = make_plan(repo, sessions, [("code", "print(1)", ["confirm"])])
    now = datetime.now(UTC)
    run = Run("r-live", plan_id, "bob", RunMode.INTERACTIVE, RunState.RUNNING, now, "x", "h:1")
    with sessions.begin() as session:
        create_run(session, run)
    return run.id


def _open(sessions: sessionmaker[Session], run_id: str, *, by_other: bool = False) -> None:
    gate = Gate(
        run_id=run_id,
        cell_index=0,
        kind=GateKind.CONFIRM,
        options=GATE_OPTIONS[GateKind.CONFIRM],
        view={"source": "print(1)"},
        executor="bob",
        opened_at=datetime.now(UTC),
        cell_id="c-0",
        by_other=by_other,
    )
    with sessions.begin() as session:
        open_gate(session, gate)


def test_a_waiting_gate_is_decided_once_by_number_or_id(
    sessions: sessionmaker[Session], run_id: str
) -> None:
    _open(sessions, run_id)
    with sessions.begin() as session:
        decided = decide_gate(session, run_id, parse_cell("c-0"), Decision.SKIP, "carol")
    assert (decided.decision, decided.decided_by, decided.waiting) == (
        Decision.SKIP,
        "carol",
        False,
    )
    with sessions.begin() as session, pytest.raises(GateNotWaitingError, match="waits at no gate"):
        decide_gate(session, run_id, parse_cell("0"), Decision.YES, "dave")


def test_a_decision_that_does_not_answer_the_gate_or_the_wrong_cell_is_refused(
    sessions: sessionmaker[Session], run_id: str
) -> None:
    _open(sessions, run_id)
    with sessions.begin() as session, pytest.raises(UsageError, match="one of: yes, skip"):
        decide_gate(session, run_id, 0, Decision.RETRY, "carol")
    with sessions.begin() as session, pytest.raises(GateNotWaitingError) as wrong:
        decide_gate(session, run_id, 3, Decision.YES, "carol")
    assert "waits at cell 0 (confirm)" in str(wrong.value)
    with sessions() as session:
        assert waiting_gate(session, run_id) is not None  # still waiting


def test_a_gate_for_another_person_refuses_the_executor_under_any_spelling(
    sessions: sessionmaker[Session], run_id: str
) -> None:
    _open(sessions, run_id, by_other=True)
    for spelling in ("bob", " bob ", "\uff42\uff4f\uff42"):  # fullwidth: NFKC folds it to bob
        with sessions.begin() as session, pytest.raises(GateDeciderError) as refused:
            decide_gate(session, run_id, 0, Decision.YES, spelling)
        assert status_of(refused.value).http == 403
    with sessions.begin() as session:
        assert decide_gate(session, run_id, 0, Decision.YES, "carol").decided_by == "carol"


def test_nothing_waits_at_a_finished_run_and_it_cannot_be_stopped(
    sessions: sessionmaker[Session], run_id: str
) -> None:
    _open(sessions, run_id)
    with sessions.begin() as session:
        request_control(session, run_id, ControlKind.INTERRUPT, "carol")
        assert [k for _, k, _ in controls_after(session, run_id, 0)] == ["interrupt"]
        finish_run(session, run_id, 1, RunState.ABORTED)
    with sessions.begin() as session, pytest.raises(GateNotWaitingError, match="is aborted"):
        decide_gate(session, run_id, 0, Decision.YES, "carol")
    with sessions.begin() as session, pytest.raises(RunNotRunningError) as stopped:
        request_control(session, run_id, ControlKind.CANCEL, "carol")
    assert status_of(stopped.value).http == 409


def test_events_after_a_sequence_are_exactly_the_later_ones(
    sessions: sessionmaker[Session], run_id: str
) -> None:
    with sessions.begin() as session:
        for n in range(5):
            append_run_event(session, run_id, RunEventKind.CELL_OUTPUT, {"text": str(n)}, 0)
    with sessions() as session:
        assert [e.seq for e in events_after(session, run_id)] == [1, 2, 3, 4, 5]
        assert [e.data["text"] for e in events_after(session, run_id, 2)] == ["2", "3", "4"]
        assert events_after(session, run_id, 5) == []
