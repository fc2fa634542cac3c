"""The REST edges on a real PostgreSQL store: alice plans, bob approves (signed with his own
ssh-keygen key), alice cannot approve her own plan, retried creations happen once, a
playbook and a workflow run through the API to their end."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.orm import Session

from runbook.model.repository import Repository, find_repository
from runbook.orchestrate.initialize import init_repository
from runbook.store.db import ensure_schema, make_engine
from tests.api.service import Service, service_on, write_restart
from tests.api.test_signed_review_routes import signed_body
from tests.cli.test_playbook_command import write
from tests.cli.test_workflow_command import two_step_inputs
from tests.orchestrate.test_signed_reviews import Keys, configure, make_keys

pytestmark = [pytest.mark.postgres, pytest.mark.kernel, pytest.mark.slow]

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def store_url() -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own, dropped afterwards."""
    name = f"runbook_rest_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def service(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Service, Repository, Keys]]:
    monkeypatch.setenv("RUNBOOK_DB_URL", store_url)
    init_repository(tmp_path / "ops")
    keys = make_keys(tmp_path / "keys", tmp_path / "ops", ("alice", "bob", "carol"))
    repo = configure(tmp_path / "ops", 'require = "tagged"\nsigned = false')
    write_restart(repo)
    engine = make_engine(store_url)
    ensure_schema(engine)
    try:
        with Session(engine) as session, service_on(find_repository(repo.root), session) as made:
            yield made, repo, keys
    finally:
        engine.dispose()


def test_the_rest_edges_on_postgresql(service: tuple[Service, Repository, Keys]) -> None:
    api, repo, keys = service
    body = {"runbook": "restart", "parameters": {"service": "db"}}
    made = api.post("alice", "/plans", body, key="pg-1")
    assert made.status_code == 201, made.text
    plan = made.json()
    assert api.post("alice", "/plans", body, key="pg-1").json() == plan
    assert [p["id"] for p in api.get("viewer", "/plans").json()] == [plan["id"]]
    reused = api.post("alice", "/plans", {**body, "force": True}, key="pg-1")
    assert reused.status_code == 409

    reviews = f"/plans/{plan['id']}/reviews"
    assert api.post("alice", reviews, {"verdict": "approve"}).status_code == 403
    own = api.post("alice-admin", reviews, signed_body(plan, keys, "alice"))
    assert own.status_code == 403 and own.json()["error"]["kind"] == "SelfReviewError"
    approved = api.post("bob", reviews, signed_body(plan, keys, "bob"))
    assert approved.status_code == 201, approved.text
    assert approved.json()["identity_kind"] == "ssh-key"
    assert api.get("viewer", f"/plans/{plan['id']}").json()["status"] == "approved"

    wrong = api.post("alice", "/plans", {"runbook": "restart", "parameter": {}})
    assert wrong.status_code == 422 and "body.parameter" in wrong.json()["error"]["message"]

    path = write(repo)
    assert api.post("root", "/playbooks/import", {"path": path}).status_code == 201
    planned = api.post("alice", "/playbooks/web/plans", {})
    assert planned.status_code == 201, planned.text
    started = api.post("alice", "/playbooks/web/runs", {"plan": planned.json()["id"]})
    assert started.status_code == 202, started.text
    done = api.wait_for(f"/playbook-runs/{started.json()['id']}", lambda r: r["state"] != "running")
    assert done["state"] == "succeeded", done

    two_step_inputs(repo, "print(upstream)")
    flow = api.post("alice", "/workflows/pair/runs", {"date": "2016-01-07"}, key="pg-2")
    assert flow.status_code == 202, flow.text
    ended = api.wait_for(f"/workflow-runs/{flow.json()['id']}", lambda r: r["state"] != "running")
    assert ended["state"] == "succeeded", ended
    assert [t["state"] for t in ended["tasks"]] == ["succeeded", "succeeded"]
