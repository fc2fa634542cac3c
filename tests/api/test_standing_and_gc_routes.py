"""Standing approvals (of a runbook and of a workflow) and gc through the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from runbook.model.repository import Repository
from tests.api.service import Service, service_on, write_restart
from tests.orchestrate.workflows.test_dag import notebook

SCHEDULED = """
workflows:
  - name: nightly
    parameters: {greeting: hello}
    triggers: [{schedule: '0 3 * * *'}]
    notebooks:
      only:
        filename: only.ipynb
        parameters: {greeting: greeting}
"""


@pytest.fixture
def service(repo: Repository, session: Session) -> Iterator[Service]:
    write_restart(repo)
    (repo.root / "workflows" / "nightly.yml").write_text(SCHEDULED)
    notebook(repo.root / "workflows" / "only.ipynb", "greeting = ''", "print(greeting)")
    with service_on(repo, session) as made:
        yield made


def test_grant_list_show_revoke(service: Service) -> None:
    body = {"runbook": "restart", "callers": ["playbook:web"], "bounds": {"service": "db|web"}}
    refused = service.post("alice", "/standing", body)
    assert refused.status_code == 403
    granted = service.post("bob", "/standing", {**body, "expires": "36h"}, key="s-1")
    assert granted.status_code == 201, granted.text
    approval = granted.json()
    assert (approval["approved_by"], approval["identity_kind"]) == ("bob@example.org", "token")
    assert approval["runbook"] == "runbooks/restart.ipynb"
    assert approval["callers"] == ["playbook:web"]
    assert (
        service.post("bob", "/standing", {**body, "expires": "36h"}, key="s-1").json() == approval
    )
    listed = service.get("viewer", "/standing").json()
    assert [a["id"] for a in listed] == [approval["id"]]
    assert service.get("viewer", f"/standing/{approval['id']}").json() == approval
    assert service.post("alice", f"/standing/{approval['id']}/revoke").status_code == 403
    revoked = service.post("bob", f"/standing/{approval['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == "bob@example.org"
    assert service.get("viewer", "/standing/standing-nope").status_code == 404


def test_a_workflow_is_approved_for_its_schedule(service: Service) -> None:
    body = {
        "runbook": "nightly",
        "workflow": True,
        "callers": ["schedule:nightly"],
        "bounds": {"greeting": "*"},
    }
    granted = service.post("bob", "/standing", body)
    assert granted.status_code == 201, granted.text
    assert granted.json()["runbook"] == "workflows/nightly.yml"
    wrong = service.post("bob", "/standing", {**body, "callers": ["playbook:x"]})
    assert wrong.status_code == 400 and "schedule:nightly" in wrong.json()["error"]["message"]


def test_bad_standing_input_names_what(service: Service) -> None:
    missing = service.post("bob", "/standing", {"runbook": "restart", "callers": ["playbook:web"]})
    assert missing.status_code == 400
    assert "service" in missing.json()["error"]["message"]
    lifetime = service.post(
        "bob",
        "/standing",
        {
            "runbook": "restart",
            "callers": ["playbook:web"],
            "bounds": {"service": "*"},
            "expires": "9y",
        },
    )
    assert lifetime.status_code == 400 and "expires" in lifetime.json()["error"]["message"]
    empty = service.post("bob", "/standing", {"runbook": "restart", "callers": []})
    assert empty.status_code == 422 and "body.callers" in empty.json()["error"]["message"]


def test_gc_is_for_admins(service: Service) -> None:
    assert service.post("alice", "/gc").status_code == 403
    assert service.post("bob", "/gc", {"dry_run": True}).status_code == 403
    dry = service.post("root", "/gc", {"dry_run": True})
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    done = service.post("root", "/gc")
    assert done.status_code == 200, done.text
    assert done.json()["removed"] == {} and done.json()["idempotency_keys"] == 0
