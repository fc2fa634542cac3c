"""Tokens narrowed by runbook tags: the role acts only on runbooks with one of the tags
(planning, reviewing and running them), and still reads everywhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from runbook.model.repository import Repository
from runbook.model.roles import Role
from runbook.orchestrate.tokens import create_token, token_principal
from tests.api.service import Service, service_on
from tests.builders import write_runbook


@pytest.fixture
def service(repo: Repository, session: Session) -> Iterator[Service]:
    for name, tag in (("db-restart", "db"), ("web-restart", "web")):
        write_runbook(repo.runbooks_dir / f"{name}.ipynb", [("code", "print(1)", [])], tags=[tag])
    with service_on(repo, session) as made:
        for who, user, role in (
            ("dba", "dora@example.org", Role.OPERATOR),
            ("db-reviewer", "rita@example.org", Role.REVIEWER),
        ):
            made.secrets[who] = create_token(
                session, user=user, role=role, created_by="root", tags=frozenset({"db"})
            ).secret
        session.commit()
        yield made


def test_a_narrowed_operator_plans_only_its_tags_runbooks(service: Service) -> None:
    mine = service.post("dba", "/plans", {"runbook": "db-restart"})
    assert mine.status_code == 201, mine.text
    other = service.post("dba", "/plans", {"runbook": "web-restart"})
    assert other.status_code == 403, other.text
    assert other.json()["error"]["kind"] == "ForbiddenError"
    # Nothing half-made: only the allowed plan exists.
    assert [p["id"] for p in service.get("root", "/plans").json()] == [mine.json()["id"]]
    # Reading is not narrowed.
    assert service.get("dba", "/runbooks").status_code == 200
    assert service.get("dba", "/me").json()["tags"] == ["db"]


def test_a_narrowed_reviewer_reviews_only_its_tags_plans(service: Service) -> None:
    db_plan = service.post("alice", "/plans", {"runbook": "db-restart"}).json()["id"]
    web_plan = service.post("alice", "/plans", {"runbook": "web-restart"}).json()["id"]
    refused = service.post("db-reviewer", f"/plans/{web_plan}/reviews", {"verdict": "approve"})
    assert refused.status_code == 403, refused.text
    assert service.get("root", f"/plans/{web_plan}/reviews").json() == []
    approved = service.post("db-reviewer", f"/plans/{db_plan}/reviews", {"verdict": "approve"})
    assert approved.status_code == 201, approved.text


def test_the_tags_are_the_tokens_and_are_listed(session: Session) -> None:
    made = create_token(
        session,
        user="u@example.org",
        role=Role.OPERATOR,
        created_by="root",
        tags=frozenset({"db", "cache"}),
    )
    assert token_principal(session, made.secret).tags == frozenset({"db", "cache"})
    plain = create_token(session, user="v@example.org", role=Role.OPERATOR, created_by="root")
    assert token_principal(session, plain.secret).tags is None
