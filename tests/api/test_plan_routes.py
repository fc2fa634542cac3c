"""Plans and reviews through the API: the planner and reviewer are the caller, planner ≠
reviewer holds, retried creations happen once, and bad input is one JSON error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from runbook.model.repository import Repository
from tests.api.service import Service, service_on, write_restart


@pytest.fixture
def service(repo: Repository, session: Session) -> Iterator[Service]:
    write_restart(repo)
    with service_on(repo, session) as made:
        yield made


def plan(service: Service, who: str = "alice", **body: object) -> dict[str, object]:
    made = service.post(
        who, "/plans", {"runbook": "restart", "parameters": {"service": "db"}, **body}
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def error_of(response: object) -> dict[str, object]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}, body
    return dict(body["error"])


def test_alice_plans_bob_approves_alice_cannot(service: Service) -> None:
    made = plan(service)
    assert made["planned_by"] == "alice@example.org"
    assert made["parameters"] == {"service": "db"}
    # An operator may not review at all; an admin who planned may not review their own.
    refused = service.post("alice", f"/plans/{made['id']}/reviews", {"verdict": "approve"})
    assert refused.status_code == 403 and error_of(refused)["kind"] == "ForbiddenError"
    own = plan(service, "alice-admin")
    self_review = service.post("alice-admin", f"/plans/{own['id']}/reviews", {"verdict": "approve"})
    assert self_review.status_code == 403
    assert error_of(self_review)["kind"] == "SelfReviewError"

    approved = service.post(
        "bob", f"/plans/{made['id']}/reviews", {"verdict": "approve", "comment": "ok"}
    )
    assert approved.status_code == 201, approved.text
    assert approved.json()["reviewer"] == "bob@example.org"
    assert approved.json()["verdict"] == "approved"
    reviews = service.get("viewer", f"/plans/{made['id']}/reviews").json()
    # Bob was proven by his token, not claimed: the record says so.
    assert [(r["reviewer"], r["verdict"], r["comment"], r["identity_kind"]) for r in reviews] == [
        ("bob@example.org", "approved", "ok", "token")
    ]
    assert service.get("bob", "/audit/verify").status_code == 200  # the record matches its event
    assert service.get("viewer", f"/plans/{made['id']}").json()["status"] == "approved"


def test_the_diff_against_the_runbook(service: Service) -> None:
    made = plan(service)
    diff = service.get("viewer", f"/plans/{made['id']}/diff").json()
    assert diff["against"] == "runbook" and diff["source"] == "runbooks/restart.ipynb"
    assert diff["changed"] is True
    assert any("injected-parameters" in line for line in diff["lines"])
    assert any(line.startswith("+") and "'db'" in line for line in diff["lines"])


def test_a_retried_plan_is_made_once_and_a_reused_key_is_refused(service: Service) -> None:
    body = {"runbook": "restart", "parameters": {"service": "db"}}
    first = service.post("alice", "/plans", body, key="k-1")
    again = service.post("alice", "/plans", body, key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert [p["id"] for p in service.get("viewer", "/plans").json()] == [first.json()["id"]]

    other = service.post("alice", "/plans", {**body, "parameters": {"service": "web"}}, key="k-1")
    assert other.status_code == 409
    assert error_of(other)["kind"] == "IdempotencyConflictError"
    assert "k-1" in str(error_of(other)["message"])
    # Keys are the caller's: another principal's same key is another request.
    root = service.post("root", "/plans", body, key="k-1")
    assert root.status_code == 201 and root.json()["id"] != first.json()["id"]
    assert len(service.get("viewer", "/plans").json()) == 2


def test_a_failed_creation_keeps_no_key(service: Service) -> None:
    bad = {"runbook": "restart", "parameters": {"nope": 1}}
    refused = service.post("alice", "/plans", bad, key="k-2")
    assert refused.status_code == 422 and "nope" in str(error_of(refused)["message"])
    fixed = service.post("alice", "/plans", {"runbook": "restart"}, key="k-2")
    assert fixed.status_code == 201, fixed.text


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"runbook": "restart", "frobnicate": 1}, "body.frobnicate"),
        ({"parameters": {}}, "body.runbook"),
        ({"runbook": "restart", "force": "maybe"}, "body.force"),
        ({"runbook": "nope"}, "nope"),
    ],
)
def test_bad_input_is_one_error_naming_the_field(
    service: Service, body: dict[str, object], named: str
) -> None:
    refused = service.post("alice", "/plans", body)
    assert refused.status_code in {404, 422}, refused.text
    error = error_of(refused)
    assert named in str(error["message"]) and "\n" not in str(error["message"])


def test_bad_review_input(service: Service) -> None:
    made = plan(service)
    wrong = service.post("bob", f"/plans/{made['id']}/reviews", {"verdict": "maybe"})
    assert wrong.status_code == 422 and "verdict" in str(error_of(wrong)["message"])
    half = service.post("bob", f"/plans/{made['id']}/reviews", {"verdict": "approve", "nonce": "n"})
    assert half.status_code == 422 and "signature" in str(error_of(half)["message"])
    key = service.post("bob", "/plans/p-nope/reviews", {"verdict": "approve"}, key="bad key\n")
    assert key.status_code in {404, 422}
