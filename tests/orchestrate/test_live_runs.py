"""Service runs in a process of their own, with gates decided through a PostgreSQL store.

Real kernels, real processes, a real PostgreSQL database per test. Every wait ends on a
state of the store (a gate waiting, an event, a run's end), never on a sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy.orm import Session, sessionmaker

from runbook.errors import GateDeciderError, GateNotWaitingError
from runbook.model.audit import EventKind, run_subject
from runbook.model.gates import GateKind, RunEvent, RunEventKind
from runbook.model.repository import Repository
from runbook.model.run import CellStatus, Decision, RunState
from runbook.orchestrate.leases import owner_gone
from runbook.orchestrate.live_events import follow
from runbook.orchestrate.live_runs import LiveRunRequest, start_live_run
from runbook.orchestrate.remote_gates import decide_gate
from runbook.orchestrate.run_controls import ControlKind, request_control
from runbook.outcomes import status_of
from runbook.store.audit import list_events
from runbook.store.gates import waiting_gate
from runbook.store.run_events import events_after
from runbook.store.runs import get_run, list_cell_events
from tests.builders import Cell
from tests.cli.process import runbook
from tests.orchestrate import live
from tests.orchestrate.live import make_plan, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.kernel, pytest.mark.slow]
store_url = live.store_url
pg_sessions = live.pg_sessions

CONFIRMED: list[Cell] = [
    ("code", "print('checked')", []),
    ("code", "print('mutating now')", ["confirm"]),
    ("code", "print('verified')", []),
]


def _finished(sessions: sessionmaker[Session], run_id: str) -> RunState:
    return wait_until(
        sessions,
        lambda s: get_run(s, run_id).state if get_run(s, run_id).state.finished else None,
    )


def _until_gate(sessions: sessionmaker[Session], run_id: str) -> list[RunEvent]:
    seen = []
    for event in follow(sessions, run_id):
        seen.append(event)
        if event.kind is RunEventKind.GATE_WAITING:
            break
    return seen


def test_a_service_run_waits_at_its_gate_and_a_second_user_decides_it(
    repo: Repository, store_url: str, pg_sessions: sessionmaker[Session]
) -> None:
    plan_id = make_plan(repo, pg_sessions, CONFIRMED)
    started = start_live_run(repo, store_url, LiveRunRequest(plan_id, "bob"))
    run_id = started.run_id

    gate = wait_until(pg_sessions, lambda s: waiting_gate(s, run_id))
    assert (gate.cell_index, gate.kind, gate.executor) == (1, GateKind.CONFIRM, "bob")
    assert "mutating now" in gate.view["source"] and gate.view["tags"] == ["confirm"]
    assert [d.value for d in gate.options] == ["yes", "skip", "abort", "rollback"]
    # A follower reads up to the gate's wait, mid-run, and reconnects after it.
    before = _until_gate(pg_sessions, run_id)
    with pg_sessions.begin() as session:
        decided = decide_gate(session, run_id, 1, Decision.YES, "carol")
    assert (decided.decision, decided.decided_by) == (Decision.YES, "carol")
    after = list(follow(pg_sessions, run_id, after=before[-1].seq))

    assert _finished(pg_sessions, run_id) is RunState.SUCCEEDED
    seqs = [e.seq for e in before + after]
    assert seqs == list(range(1, len(seqs) + 1))  # none lost, none repeated
    with pg_sessions() as session:
        assert [e.seq for e in events_after(session, run_id)] == seqs
        cells = list_cell_events(session, run_id)
        audit = list_events(session, subject=run_subject(run_id))
    kinds = [e.kind for e in before + after]
    assert kinds[0] is RunEventKind.RUN_STARTED and kinds[-1] is RunEventKind.RUN_FINISHED
    assert RunEventKind.CELL_DECIDED in kinds
    outputs = "".join(e.data["text"] for e in after if e.kind is RunEventKind.CELL_OUTPUT)
    assert "mutating now" in outputs and "verified" in outputs
    confirmed = next(e for e in cells if e.cell_index == 1)
    assert (confirmed.status, confirmed.decision, confirmed.decided_by) == (
        CellStatus.SUCCEEDED,
        Decision.YES,
        "carol",
    )
    assert [
        (e.actor, e.payload["decision"]) for e in audit if e.kind == EventKind.CELL_DECIDED
    ] == [("carol", "yes")]
    # The gate was decided: deciding it again is a conflict, not a second decision.
    with pg_sessions.begin() as session, pytest.raises(GateNotWaitingError) as twice:
        decide_gate(session, run_id, 1, Decision.YES, "carol")
    assert status_of(twice.value).http == 409


def test_a_gate_set_to_need_another_person_refuses_the_executor(
    repo: Repository, store_url: str, pg_sessions: sessionmaker[Session]
) -> None:
    cells: list[Cell] = [
        ("markdown", "Drain the node by hand.", ["manual"]),
        ("code", "print('done')", []),
    ]
    plan_id = make_plan(repo, pg_sessions, cells, gate="other")
    run_id = start_live_run(repo, store_url, LiveRunRequest(plan_id, "bob")).run_id
    gate = wait_until(pg_sessions, lambda s: waiting_gate(s, run_id))
    assert gate.kind is GateKind.MANUAL and gate.by_other

    with pg_sessions.begin() as session, pytest.raises(GateDeciderError) as refused:
        decide_gate(session, run_id, 0, Decision.ACKNOWLEDGED, "bob")
    assert status_of(refused.value).http == 403
    with pg_sessions.begin() as session:
        decide_gate(session, run_id, 0, Decision.ACKNOWLEDGED, "carol")

    assert _finished(pg_sessions, run_id) is RunState.SUCCEEDED
    with pg_sessions() as session:
        manual = list_cell_events(session, run_id)[0]
    assert (manual.decision, manual.decided_by) == (Decision.ACKNOWLEDGED, "carol")


def test_a_cancel_interrupts_the_running_cell_and_aborts_the_run_as_the_canceller(
    repo: Repository, store_url: str, pg_sessions: sessionmaker[Session]
) -> None:
    cells: list[Cell] = [
        ("code", "import time\nprint('sleeping', flush=True)\ntime.sleep(600)", [])
    ]
    plan_id = make_plan(repo, pg_sessions, cells)
    run_id = start_live_run(repo, store_url, LiveRunRequest(plan_id, "bob")).run_id
    for event in follow(pg_sessions, run_id):
        if event.kind is RunEventKind.CELL_OUTPUT:
            break  # the cell runs
    with pg_sessions.begin() as session:
        request_control(session, run_id, ControlKind.CANCEL, "carol")

    assert _finished(pg_sessions, run_id) is RunState.ABORTED
    with pg_sessions() as session:
        (cell,) = list_cell_events(session, run_id)
        audit = list_events(session, subject=run_subject(run_id))
    assert cell.status is CellStatus.INTERRUPTED
    # What follows the interrupt is recorded as at a terminal: decided, by whoever cancelled.
    assert [
        (e.actor, e.payload["decision"]) for e in audit if e.kind == EventKind.CELL_DECIDED
    ] == [("carol", "abort")]


SERVER = """
import sys
from pathlib import Path
from runbook.model.repository import find_repository
from runbook.orchestrate.live_runs import LiveRunRequest, start_live_run
repository = find_repository(Path(sys.argv[1]))
started = start_live_run(repository, sys.argv[2], LiveRunRequest(sys.argv[3], "bob"))
print(started.run_id, flush=True)
sys.stdin.read()
"""


def test_killing_the_server_leaves_its_run_interrupted_for_another_process(
    repo: Repository, store_url: str, pg_sessions: sessionmaker[Session]
) -> None:
    plan_id = make_plan(repo, pg_sessions, CONFIRMED)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(repo.root), store_url, plan_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    run_id = server.stdout.readline().strip()
    wait_until(pg_sessions, lambda s: waiting_gate(s, run_id))
    owner = wait_until(pg_sessions, lambda s: get_run(s, run_id).lease_owner)

    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    server.stdout.close()
    if server.stdin is not None:
        server.stdin.close()
    # The run's own process follows its server: its lease then names a process gone.
    wait_until(pg_sessions, lambda s: owner_gone(owner) or None)
    # A follower's stream ends there: its lease lapsed, the run is marked interrupted.
    assert all(e.kind is not RunEventKind.RUN_FINISHED for e in follow(pg_sessions, run_id))

    listed = runbook(repo, "runs", "--json", RUNBOOK_DB_URL=store_url)
    assert listed.returncode == 0, listed.stderr
    (shown,) = [r for r in json.loads(listed.stdout) if r["id"] == run_id]
    assert shown["state"] == "interrupted"
    with pg_sessions() as session:
        assert get_run(session, run_id).state is RunState.INTERRUPTED
