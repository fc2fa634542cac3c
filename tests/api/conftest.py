"""The service in process: a repository with a runbook, a plan and a finished run, the app
on it (lifespan run by starlette's TestClient), and one API token per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from runbook.api.app import create_app
from runbook.model.plan import Plan
from runbook.model.repository import Repository, find_repository
from runbook.model.roles import Role
from runbook.model.run import CellEvent, CellStatus, Run, RunMode, RunState, new_run_id
from runbook.orchestrate.planning import plan_runbook
from runbook.orchestrate.tokens import create_token, revoke_token
from runbook.store.runs import add_cell_event, create_run, finish_run
from tests.builders import write_runbook


@dataclass(frozen=True)
class Records:
    """What the fixture repository holds."""

    plan: Plan
    run_id: str
    private_plan: Plan


def record_run(session: Session, plan: Plan, error: str | None = None) -> str:
    """A finished run of ``plan`` with one cell event (failed with ``error``, if given)."""
    started = datetime.now(UTC) - timedelta(minutes=1)
    run_id = new_run_id(started)
    create_run(
        session,
        Run(
            id=run_id,
            plan_id=plan.id,
            executor="carol",
            mode=RunMode.AUTOMATIC,
            state=RunState.RUNNING,
            started_at=started,
            notebook_path=f"runs/{run_id}/run.ipynb",
            lease_owner="host:1",
        ),
    )
    add_cell_event(
        session,
        CellEvent(
            run_id=run_id,
            cell_index=0,
            cell_type="code",
            status=CellStatus.FAILED if error else CellStatus.SUCCEEDED,
            error=error,
            started_at=started,
            ended_at=started + timedelta(seconds=1),
        ),
    )
    state = RunState.FAILED if error else RunState.SUCCEEDED
    finish_run(session, run_id, 1, state, message=error, now=started + timedelta(seconds=2))
    session.commit()
    return run_id


@pytest.fixture
def records(repo: Repository, session: Session) -> Records:
    """A runbook, a plan of it and a finished run; a private runbook and its plan."""
    restart = write_runbook(
        repo.runbooks_dir / "restart.ipynb",
        [("code", "service = 'web'", ["parameters"]), ("code", "print(service)", [])],
        title="Restart",
    )
    secret = write_runbook(
        repo.runbooks_dir / "payroll.ipynb",
        [("code", "account = 'a-1'", ["parameters"]), ("code", "print(account)", [])],
        tags=["private"],
        title="Payroll",
    )
    plan = plan_runbook(session, repo, restart, {"service": "db"}, planner="alice")
    private_plan = plan_runbook(session, repo, secret, {"account": "a-42"}, planner="alice")
    session.commit()
    return Records(plan=plan, run_id=record_run(session, plan), private_plan=private_plan)


@pytest.fixture
def app_client(repo: Repository, records: Records) -> Iterator[TestClient]:
    """The app on ``repo``, its lifespan running."""
    with TestClient(create_app(repo), raise_server_exceptions=False) as client:
        yield client


@dataclass(frozen=True)
class Tokens:
    """A secret per role, and an expired and a revoked one."""

    by_role: dict[Role, str]
    expired: str
    revoked: str

    @staticmethod
    def header(secret: str) -> dict[str, str]:
        """The Authorization header for a secret."""
        return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def tokens(session: Session) -> Tokens:
    """Tokens made by the core, as `runbook token create` makes them."""
    by_role = {
        role: create_token(session, user=f"{role.value}-user", role=role, created_by="root").secret
        for role in Role
    }
    past = datetime.now(UTC) - timedelta(seconds=1)
    expired = create_token(
        session, user="old", role=Role.ADMIN, created_by="root", expires_at=past
    ).secret
    gone = create_token(session, user="gone", role=Role.ADMIN, created_by="root")
    revoke_token(session, gone.token.id, by="root")
    return Tokens(by_role=by_role, expired=expired, revoked=gone.secret)


def with_service(repo: Repository, table: str) -> Repository:
    """``repo`` with ``table`` (TOML under ``[service]``) added to its runbook.toml."""
    config = repo.root / "runbook.toml"
    config.write_text(config.read_text(encoding="utf-8") + f"\n[service]\n{table}\n", "utf-8")
    return find_repository(repo.root)
