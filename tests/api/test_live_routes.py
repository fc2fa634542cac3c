"""Live runs over HTTP: start, follow over server-sent events, decide the gate, stop.

The app runs in process (httpx's ASGI transport) and, for the event stream a client leaves
and reconnects to mid-run, under a real uvicorn on loopback (the ASGI transport hands a
response over only once it is complete). Real kernels and run processes; every wait ends on
an event (a line of the stream, a state of the store).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from runbook.api.app import create_app
from runbook.config import database_url
from runbook.model.gates import GateKind
from runbook.model.repository import Repository
from runbook.model.roles import Role
from runbook.model.run import RunState
from runbook.orchestrate.tokens import create_token
from runbook.store.db import ensure_schema, make_engine
from runbook.store.gates import waiting_gate
from runbook.store.runs import get_run, list_runs
from tests.builders import Cell
from tests.orchestrate.live import make_plan, wait_until

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

CONFIRMED: list[Cell] = [
    ("code", "print('checked')", []),
    ("code", "print('mutating now')", ["confirm"]),
    ("code", "print('verified')", []),
]


@pytest.fixture
def sessions(repo: Repository) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url(repo.root))
    ensure_schema(engine)
    yield sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def auth(sessions: sessionmaker[Session]) -> dict[str, dict[str, str]]:
    """An Authorization header per user: bob and carol operate, vic views."""
    users = {"bob": Role.OPERATOR, "carol": Role.OPERATOR, "vic": Role.VIEWER}
    with sessions() as session:
        return {
            user: {
                "Authorization": "Bearer "
                + create_token(session, user=user, role=role, created_by="root").secret
            }
            for user, role in users.items()
        }


@contextlib.asynccontextmanager
async def _in_process(repo: Repository) -> AsyncIterator[httpx.AsyncClient]:
    """The app in this process, its lifespan running, and a client on it."""
    app = create_app(repo, run_pool_size=1)
    async with app.router.lifespan_context(app):
        # The run below is started in the pooled process, its kernel booted already.
        assert await asyncio.to_thread(app.state.run_pool.wait_ready)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://runbook") as client:
            yield client


@pytest.fixture
def served(repo: Repository) -> Iterator[str]:
    """The app under uvicorn on a free loopback port; its base URL."""
    app: FastAPI = create_app(repo)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    started = threading.Event()
    original = server.startup

    async def startup(sockets: Any = None) -> None:
        await original(sockets)
        started.set()

    server.startup = startup  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert started.wait(60)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Server-sent events from a stream's lines: each with its id, event and data."""
    event: dict[str, Any] = {}
    for line in lines:
        if not line:
            if event:
                yield event
            event = {}
            continue
        field, _, value = line.partition(": ")
        event[field] = json.loads(value) if field == "data" else value


def test_a_client_follows_a_run_leaves_mid_run_and_resumes_with_last_event_id(
    repo: Repository,
    sessions: sessionmaker[Session],
    auth: dict[str, dict[str, str]],
    served: str,
) -> None:
    plan_id = make_plan(repo, sessions, CONFIRMED)
    with httpx.Client(base_url=served, timeout=120) as http:
        started = http.post("/runs", json={"plan": plan_id}, headers=auth["bob"])
        assert started.status_code == 201, started.text
        run_id = started.json()["run"]
        first: list[dict[str, Any]] = []
        with http.stream("GET", f"/runs/{run_id}/events", headers=auth["vic"]) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for event in _events(stream.iter_lines()):
                first.append(event)
                if event["event"] == "gate.waiting":
                    break  # the client goes away mid-run
        assert first[-1]["data"]["data"]["kind"] == GateKind.CONFIRM.value

        decided = http.post(
            f"/runs/{run_id}/gates/1", json={"decision": "yes"}, headers=auth["carol"]
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["decided_by"] == "carol"

        resume = {**auth["vic"], "Last-Event-ID": first[-1]["id"]}
        with http.stream("GET", f"/runs/{run_id}/events", headers=resume) as stream:
            rest = list(_events(stream.iter_lines()))
    ids = [int(e["id"]) for e in first + rest]
    assert ids == list(range(1, len(ids) + 1))  # none lost, none repeated
    assert rest[-1]["event"] == "run.finished"
    assert rest[-1]["data"]["data"]["state"] == "succeeded"
    assert any(e["event"] == "cell.decided" and e["data"]["data"]["by"] == "carol" for e in rest)


def test_gates_and_stops_answer_conflicts_and_permissions_in_one_shape(
    repo: Repository, sessions: sessionmaker[Session], auth: dict[str, dict[str, str]]
) -> None:
    plan_id = make_plan(repo, sessions, CONFIRMED)
    asyncio.run(_gates_and_stops(repo, sessions, auth, plan_id))


async def _gates_and_stops(
    repo: Repository,
    sessions: sessionmaker[Session],
    auth: dict[str, dict[str, str]],
    plan_id: str,
) -> None:
    async with _in_process(repo) as client:
        await _decide_and_stop(client, sessions, auth, plan_id)


async def _decide_and_stop(
    client: httpx.AsyncClient,
    sessions: sessionmaker[Session],
    auth: dict[str, dict[str, str]],
    plan_id: str,
) -> None:
    refused = await client.post("/runs", json={"plan": plan_id}, headers=auth["vic"])
    assert refused.status_code == 403 and "error" in refused.json()
    started = await client.post("/runs", json={"plan": plan_id}, headers=auth["bob"])
    assert started.status_code == 201, started.text
    run_id = started.json()["run"]
    wait_until(sessions, lambda s: waiting_gate(s, run_id))

    wrong = await client.post(
        f"/runs/{run_id}/gates/0", json={"decision": "yes"}, headers=auth["carol"]
    )
    assert wrong.status_code == 409 and wrong.json()["error"]["kind"] == "GateNotWaitingError"
    viewer = await client.post(
        f"/runs/{run_id}/gates/1", json={"decision": "yes"}, headers=auth["vic"]
    )
    assert viewer.status_code == 403
    cancelled = await client.post(f"/runs/{run_id}/cancel", headers=auth["carol"])
    assert cancelled.status_code == 202

    state = wait_until(
        sessions, lambda s: get_run(s, run_id).state if get_run(s, run_id).state.finished else None
    )
    assert state is RunState.ABORTED
    again = await client.post(f"/runs/{run_id}/interrupt", headers=auth["carol"])
    assert again.status_code == 409
    # The whole stream, from the start, after the end: as recorded.
    replay = await client.get(
        f"/runs/{run_id}/events", headers={**auth["vic"], "Last-Event-ID": "2"}
    )
    ids = [int(line[4:]) for line in replay.text.splitlines() if line.startswith("id: ")]
    assert ids[0] == 3 and ids == list(range(3, 3 + len(ids)))
    unknown = await client.get("/runs/nope/events", headers=auth["vic"])
    assert unknown.status_code == 404


def test_a_retried_post_runs_with_its_idempotency_key_starts_one_run(
    repo: Repository, sessions: sessionmaker[Session], auth: dict[str, dict[str, str]]
) -> None:
    plan_id = make_plan(repo, sessions, [("code", "print('once')", [])], name="once")
    asyncio.run(_retried(repo, sessions, auth, plan_id))


async def _retried(
    repo: Repository,
    sessions: sessionmaker[Session],
    auth: dict[str, dict[str, str]],
    plan_id: str,
) -> None:
    app = create_app(repo)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://runbook") as client:
            keyed = {**auth["bob"], "Idempotency-Key": "page-4711"}
            first = await client.post("/runs", json={"plan": plan_id}, headers=keyed)
            assert first.status_code == 201, first.text
            run_id = first.json()["run"]
            state = wait_until(
                sessions,
                lambda s: get_run(s, run_id).state if get_run(s, run_id).state.finished else None,
            )
            assert state is RunState.SUCCEEDED
            # The retry (the client never saw the answer) starts nothing: same run, replayed.
            again = await client.post("/runs", json={"plan": plan_id}, headers=keyed)
            assert again.status_code == 201 and again.json() == first.json()
            assert again.headers["idempotent-replayed"] == "true"
            other = await client.post(
                "/runs", json={"plan": plan_id, "mode": "dry-run"}, headers=keyed
            )
            assert other.status_code == 409
            assert other.json()["error"]["kind"] == "IdempotencyConflictError"
            # Another caller's same key is theirs: it is not a replay of bob's run.
            carol = {**auth["carol"], "Idempotency-Key": "page-4711"}
            theirs = await client.post("/runs", json={"plan": plan_id}, headers=carol)
            assert theirs.status_code == 201 and theirs.json()["run"] != run_id
            wait_until(
                sessions,
                lambda s: get_run(s, theirs.json()["run"]).state.finished or None,
            )
    with sessions() as session:
        runs = list_runs(session, plan_id=plan_id)
    assert sorted(r.id for r in runs) == sorted([run_id, theirs.json()["run"]])
