"""At most one automated run per (service, code) at a time, under concurrent webhooks to two
services (two apps, each with its own engine, as two serve processes) on one PostgreSQL
store: of eight alerts for one pair delivered at once, one runs, the others suggest."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from runbook.api.app import create_app
from runbook.model.repository import Repository, find_repository
from runbook.store.tables import RunRow
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


def test_concurrent_webhooks_on_two_services_start_one_automated_run(ops: Repository) -> None:
    headers = {"Authorization": f"Bearer {BEARER}"}
    barrier = threading.Barrier(DELIVERIES)
    answers: dict[int, dict[str, str]] = {}
    with TestClient(create_app(ops)) as first, TestClient(create_app(ops)) as second:

        def deliver(number: int) -> None:
            client = (first, second)[number % 2]
            barrier.wait()
            response = client.post(
                "/alerts/alertmanager/prod", content=body(number), headers=headers
            )
            assert response.status_code == 200, response.text
            answers[number] = response.json()["alerts"][0]

        threads = [threading.Thread(target=deliver, args=(n,)) for n in range(DELIVERIES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(answers) == DELIVERIES
        actions = sorted(a["action"] for a in answers.values())
        assert actions == ["auto"] + ["suggest"] * (DELIVERIES - 1), answers
        for answer in answers.values():
            if answer["action"] == "suggest":
                assert "in progress" in answer["detail"] or "cooling down" in answer["detail"]
        # The one run, recorded and ended, before the apps (and its thread) stop.
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
