"""At most one automated run per (service, code) at a time, under concurrent webhooks to two
services on one PostgreSQL store (two apps in process, each with its own engine; and two real
`runbook serve` processes): of eight alerts for one pair delivered at once, one runs, the
others suggest."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from runbook.api.app import create_app
from runbook.model.repository import Repository, find_repository
from runbook.store.tables import RunRow
from tests.cli.process import RUNBOOK
from tests.orchestrate.catalog.catalog_setup import catalog_repo, grant, sessions_of

pytestmark = [pytest.mark.postgres, pytest.mark.kernel, pytest.mark.slow]

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
BEARER = "concurrency-bearer"
DELIVERIES = 8


@pytest.fixture
def ops(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repository]:
    name = f"runbook_alerts_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    monkeypatch.setenv("RUNBOOK_DB_URL", f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    monkeypatch.setenv("RUNBOOK_ALERT_PROD", BEARER)
    made = catalog_repo(repo)
    config = made.root / "runbook.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + '\n[catalog.sources.prod]\nkind = "alertmanager"\nsecret_env = "RUNBOOK_ALERT_PROD"\n',
        "utf-8",
    )
    fresh = find_repository(made.root)
    with sessions_of(fresh) as sessions, sessions() as session:
        grant(session, fresh)
    yield fresh
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def body(number: int) -> bytes:
    """One firing alert of checkout's E-DISK on web1, its own fingerprint."""
    alert = {
        "status": "firing",
        "labels": {"service": "checkout", "error_code": "E-DISK", "instance": "web1"},
        "annotations": {},
        "startsAt": "2026-12-04T01:00:00Z",
        "fingerprint": f"concurrent-{number}",
    }
    return json.dumps({"version": "4", "status": "firing", "alerts": [alert]}).encode()


def deliver_at_once(clients: list[httpx.Client]) -> list[dict[str, str]]:
    """DELIVERIES webhooks released together, alternating between ``clients``; the answers."""
    barrier = threading.Barrier(DELIVERIES)
    answers: dict[int, dict[str, str]] = {}

    def deliver(number: int) -> None:
        barrier.wait()
        client = clients[number % len(clients)]
        response = client.post("/alerts/alertmanager/prod", content=body(number), headers=HEADERS)
        assert response.status_code == 200, response.text
        answers[number] = response.json()["alerts"][0]

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == DELIVERIES
    return list(answers.values())


def check_one_run(ops: Repository, answers: list[dict[str, str]]) -> None:
    """One answer ran, the rest suggested because of it; the one run ends, succeeded."""
    actions = sorted(a["action"] for a in answers)
    assert actions == ["auto"] + ["suggest"] * (DELIVERIES - 1), answers
    for answer in answers:
        if answer["action"] == "suggest":
            assert "in progress" in answer["detail"] or "cooling down" in answer["detail"]
    with sessions_of(ops) as sessions:
        deadline = time.monotonic() + 240  # only a hang reaches it
        while time.monotonic() < deadline:
            with sessions() as session:
                states = list(session.scalars(select(RunRow.state)))
            if states and all(state != "running" for state in states):
                break
            time.sleep(0.2)
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(RunRow)) == 1
            assert list(session.scalars(select(RunRow.state))) == ["succeeded"]


HEADERS = {"Authorization": f"Bearer {BEARER}"}


def test_concurrent_webhooks_to_two_apps_start_one_automated_run(ops: Repository) -> None:
    with TestClient(create_app(ops)) as first, TestClient(create_app(ops)) as second:
        check_one_run(ops, deliver_at_once([first, second]))


STARTED = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@contextmanager
def serve(ops: Repository) -> Iterator[str]:
    """A `runbook serve` process on the repository's store: its URL."""
    server = subprocess.Popen(
        [RUNBOOK, "serve", "--port", "0"],
        cwd=ops.root,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert server.stderr is not None
    drain = threading.Thread(target=server.stderr.read, daemon=True)
    try:
        for line in server.stderr:  # the startup line, however long it takes
            match = STARTED.search(line)
            if match:
                break
        else:
            pytest.fail("runbook serve ended before it listened")
        drain.start()  # the rest of its log, so it never blocks on a full pipe
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        server.terminate()
        server.wait(timeout=60)
        if drain.is_alive():
            drain.join(timeout=60)
        server.stderr.close()


def test_concurrent_webhooks_to_two_serve_processes_start_one_run(ops: Repository) -> None:
    with ExitStack() as stack:
        urls = [stack.enter_context(serve(ops)) for _ in range(2)]
        clients = [stack.enter_context(httpx.Client(base_url=u, timeout=120)) for u in urls]
        check_one_run(ops, deliver_at_once(clients))
