"""Playbooks through the API: imported (admin), listed, planned, run in the background,
followed to their end, retried and cancelled."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from runbook.model.repository import Repository
from tests.api.service import Service, service_on
from tests.cli.test_playbook_command import write

pytestmark = pytest.mark.slow


@pytest.fixture
def service(repo: Repository, session: Session) -> Iterator[Service]:
    with service_on(repo, session) as made:
        yield made


def finished(run: dict[str, object]) -> bool:
    return run["state"] != "running"


def test_import_plan_run_retry(service: Service, repo: Repository) -> None:
    path = write(repo)
    assert service.post("alice", "/playbooks/import", {"path": path}).status_code == 403
    imported = service.post("root", "/playbooks/import", {"path": path}, key="i-1")
    assert imported.status_code == 201, imported.text
    assert (imported.json()["name"], imported.json()["revision"]) == ("web", 1)
    assert imported.json()["created"] is True
    assert (
        service.post("root", "/playbooks/import", {"path": path}, key="i-1").json()
        == imported.json()
    )
    outside = service.post("root", "/playbooks/import", {"path": "../etc/passwd"})
    assert outside.status_code == 400 and outside.json()["error"]["kind"] == "PathEscapeError"
    assert [d["name"] for d in service.get("viewer", "/playbooks").json()] == ["web"]
    shown = service.get("viewer", "/playbooks/web").json()
    assert shown["definition"]["name"] == "web"
    assert service.get("viewer", "/playbooks/nope").status_code == 404

    plan = service.post("alice", "/playbooks/web/plans", {"parameters": {"reason": "patch"}})
    assert plan.status_code == 201, plan.text
    assert plan.json()["playbook"] == "web" and plan.json()["planned_by"] == "alice@example.org"
    diff = service.get("viewer", f"/plans/{plan.json()['id']}/diff").json()
    assert diff["against"] == "playbook" and diff["lines"] == []

    (repo.root / "fail-web2").write_text("")
    started = service.post("alice", "/playbooks/web/runs", {"plan": plan.json()["id"]})
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["plan_id"] == plan.json()["id"] and run["parameters"] == {"reason": "patch"}
    assert len(run["targets"]) == 4
    failed = service.wait_for(f"/playbook-runs/{run['id']}", finished)
    assert failed["state"] == "failed"
    states = {t["name"]: t["state"] for t in failed["targets"]}
    assert states == {
        "web1": "SUCCEEDED",
        "web2": "FAILED",
        "web3": "SUCCEEDED",
        "web4": "SUCCEEDED",
    }
    late = service.post("alice", f"/playbook-runs/{run['id']}/cancel")
    assert late.status_code == 422 and "already ended" in late.json()["error"]["message"]

    (repo.root / "fail-web2").unlink()
    retried = service.post("alice", f"/playbook-runs/{run['id']}/retry", key="r-1")
    assert retried.status_code == 202, retried.text
    assert retried.json()["retry_of"] == run["id"]
    assert [t["name"] for t in retried.json()["targets"]] == ["web2"]
    done = service.wait_for(f"/playbook-runs/{retried.json()['id']}", finished)
    assert done["state"] == "succeeded", done
    listed = service.get("viewer", "/playbook-runs", playbook="web").json()
    assert [r["id"] for r in listed] == [retried.json()["id"], run["id"]]


def test_a_run_by_name_and_a_cancel(service: Service, repo: Repository) -> None:
    from tests.cli.test_playbook_command import BLOCKING

    path = write(repo, steps=[{"name": "wait", "shell": BLOCKING}])
    assert service.post("root", "/playbooks/import", {"path": path}).status_code == 201
    bad = service.post("alice", "/playbooks/web/runs", {"parameters": {"colour": "red"}})
    assert bad.status_code == 422 and "colour" in bad.json()["error"]["message"]
    started = service.post("alice", "/playbooks/web/runs", {"parameters": {"reason": "now"}})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    cancelled = service.post("alice", f"/playbook-runs/{run_id}/cancel", {"interrupt": True})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["cancel"] == "interrupt"
    done = service.wait_for(f"/playbook-runs/{run_id}", finished)
    assert done["state"] == "cancelled"
