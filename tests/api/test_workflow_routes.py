"""Workflows through the API: listed, started in the server's background, followed in the
store to their end, resumed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from runbook.model.repository import Repository
from tests.api.service import Service, service_on
from tests.cli.test_workflow_command import two_step_inputs

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


@pytest.fixture
def service(repo: Repository, session: Session) -> Iterator[Service]:
    with service_on(repo, session) as made:
        yield made


def finished(run: dict[str, object]) -> bool:
    return run["state"] != "running"


def test_a_workflow_started_through_the_api_runs_to_its_end(
    service: Service, repo: Repository
) -> None:
    two_step_inputs(repo, "raise SystemExit('not yet')")
    listed = service.get("viewer", "/workflows").json()
    assert [w["name"] for w in listed["workflows"]] == ["pair"] and listed["invalid"] == []
    body = {"parameters": {"greeting": "hi"}, "date": "2016-01-07"}
    assert service.post("viewer", "/workflows/pair/runs", body).status_code == 403

    started = service.post("alice", "/workflows/pair/runs", body, key="w-1")
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["started_by"] == "alice@example.org" and run["state"] == "running"
    assert service.post("alice", "/workflows/pair/runs", body, key="w-1").json() == run
    failed = service.wait_for(f"/workflow-runs/{run['id']}", finished)
    assert failed["state"] == "failed"
    assert [(t["key"], t["state"]) for t in failed["tasks"]] == [
        ("first", "succeeded"),
        ("second", "failed"),
    ]
    assert [r["id"] for r in service.get("viewer", "/workflow-runs").json()] == [run["id"]]

    two_step_inputs(
        repo, "from runbook.helpers import read_scraps\nprint(read_scraps(upstream)['said'])"
    )
    resumed = service.post("alice", f"/workflow-runs/{run['id']}/resume")
    assert resumed.status_code == 202, resumed.text
    assert resumed.json()["resumed_from"] == run["id"]
    done = service.wait_for(f"/workflow-runs/{resumed.json()['id']}", finished)
    assert done["state"] == "succeeded", done
    assert [(t["key"], t["state"]) for t in done["tasks"]] == [
        ("first", "reused"),
        ("second", "succeeded"),
    ]


def test_workflow_refusals_are_errors_before_anything_starts(
    service: Service, repo: Repository
) -> None:
    two_step_inputs(repo, "print(upstream)")
    unknown = service.post("alice", "/workflows/nope/runs", {})
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]["message"]
    bad = service.post("alice", "/workflows/pair/runs", {"parameters": {"colour": "red"}})
    assert bad.status_code == 422 and "colour" in bad.json()["error"]["message"]
    assert service.get("viewer", "/workflow-runs").json() == []
    assert service.get("viewer", "/workflow-runs/wf-nope").status_code == 404
