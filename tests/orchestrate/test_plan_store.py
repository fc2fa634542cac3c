"""Plans live in the store: the file under runs/plans/ is a cache, written from it and checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from runbook.errors import PlanModifiedError, PlanUnreadableError
from runbook.model.ids import plan_file
from runbook.model.plan import Plan
from runbook.model.repository import Repository, find_repository
from runbook.model.review import Verdict
from runbook.orchestrate import plan_store
from runbook.orchestrate.initialize import init_repository
from runbook.orchestrate.plan_store import IN_THE_STORE, intact_plan_notebook
from runbook.orchestrate.planning import (
    ensure_runnable,
    list_plan_readiness,
    load_runnable,
    plan_readiness,
    plan_runbook,
)
from runbook.orchestrate.reviewing import review_plan
from runbook.store.plan_notebooks import plan_notebook_bytes
from runbook.store.tables import PlanNotebookRow
from tests.builders import write_runbook


def _plan(repo: Repository, session: Session, *, tags: list[str] | None = None) -> Plan:
    path = write_runbook(
        repo.runbooks_dir / "restart.ipynb",
        [("code", "host = 'localhost'", ["parameters"]), ("code", "print(host)", ["confirm"])],
        parameters={"host": {"type": "str", "default": "localhost"}},
        tags=tags,
    )
    return plan_runbook(session, repo, path, {"host": "db1"}, planner="alice")


def _tamper_store(session: Session, plan_id: str, notebook: bytes) -> None:
    """What someone with write access to the database does to a plan's stored notebook."""
    session.execute(
        update(PlanNotebookRow).where(PlanNotebookRow.plan_id == plan_id).values(notebook=notebook)
    )
    session.commit()


def test_the_store_keeps_the_exact_bytes_of_the_plan_file(
    repo: Repository, session: Session
) -> None:
    plan = _plan(repo, session)
    assert plan_notebook_bytes(session, plan.id) == (repo.root / plan.notebook_path).read_bytes()


def test_a_missing_file_is_written_from_the_store_and_the_plan_runs(
    repo: Repository, session: Session
) -> None:
    plan = _plan(repo, session)
    path = repo.root / plan.notebook_path
    written = path.read_bytes()
    path.unlink()
    assert plan_readiness(session, repo, plan).status == "ready"
    assert not path.exists()  # judging readiness (listings) writes nothing
    ran, notebook = load_runnable(session, repo, plan.id)
    assert ran.id == plan.id and notebook.cells[1].source == "# Parameters\nhost = 'db1'\n"
    assert path.read_bytes() == written  # the cache, exactly as the planner wrote it
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_listings_do_not_call_a_plan_without_its_file_modified_or_missing(
    repo: Repository, session: Session
) -> None:
    reviewed = _plan(repo, session, tags=["critical"])
    plain = _plan(repo, session)
    for plan in (reviewed, plain):
        (repo.root / plan.notebook_path).unlink()
    statuses = {plan.id: r.status for plan, r in list_plan_readiness(session, repo)}
    assert statuses == {reviewed.id: "awaiting-review", plain.id: "ready"}


def test_another_repository_on_the_same_store_reviews_and_verifies_the_plan(
    repo: Repository, session: Session, tmp_path: Path
) -> None:
    plan = _plan(repo, session, tags=["critical"])
    init_repository(tmp_path / "bob")
    other = find_repository(tmp_path / "bob")  # a second workstation: no runs/plans/ file
    assert intact_plan_notebook(session, other, plan).metadata["runbook"]["plan"]["id"] == plan.id
    review_plan(session, other, plan.id, Verdict.APPROVED, reviewer="bob")
    assert ensure_runnable(session, other, plan.id).id == plan.id
    assert plan_file(other, plan.id).read_bytes() == (repo.root / plan.notebook_path).read_bytes()


def test_an_edited_cache_is_refused_as_modified(repo: Repository, session: Session) -> None:
    plan = _plan(repo, session)
    path = repo.root / plan.notebook_path
    content = json.loads(path.read_text())
    content["cells"][1]["source"] = "host = 'prod-db1'\n"
    path.write_text(json.dumps(content))
    with pytest.raises(PlanModifiedError, match=f"{plan.notebook_path} was modified after"):
        ensure_runnable(session, repo, plan.id)
    with pytest.raises(PlanModifiedError):
        review_plan(session, repo, plan.id, Verdict.APPROVED, reviewer="bob")
    assert plan_readiness(session, repo, plan).status == "modified"
    assert "prod-db1" in path.read_text()  # refused, not silently repaired


def test_a_cache_that_cannot_be_read_is_refused(repo: Repository, session: Session) -> None:
    plan = _plan(repo, session)
    (repo.root / plan.notebook_path).write_text("{")
    with pytest.raises(PlanUnreadableError, match=f"{plan.notebook_path} cannot be read"):
        ensure_runnable(session, repo, plan.id)


def test_a_tampered_stored_notebook_is_refused_even_with_an_intact_file(
    repo: Repository, session: Session
) -> None:
    plan = _plan(repo, session)
    stored = plan_notebook_bytes(session, plan.id)
    assert stored is not None
    _tamper_store(session, plan.id, stored.replace(b"db1", b"prod-db1"))
    with pytest.raises(PlanModifiedError) as modified:
        ensure_runnable(session, repo, plan.id)
    assert str(modified.value).startswith(
        f"plan {plan.id}: {IN_THE_STORE} was modified after planning (sha256 "
    )
    assert plan_readiness(session, repo, plan).status == "modified"
    (repo.root / plan.notebook_path).unlink()  # nor is the tampered notebook written as a cache
    with pytest.raises(PlanModifiedError):
        review_plan(session, repo, plan.id, Verdict.APPROVED, reviewer="bob")
    assert not (repo.root / plan.notebook_path).exists()


@pytest.mark.parametrize(
    ("stored", "reason"),
    [(b"\xff\xfe", "not UTF-8 text"), (b"{", "invalid JSON at line 1 column 2")],
)
def test_a_stored_notebook_that_cannot_be_read_is_refused(
    repo: Repository, session: Session, stored: bytes, reason: str
) -> None:
    plan = _plan(repo, session)
    _tamper_store(session, plan.id, stored)
    with pytest.raises(PlanUnreadableError) as unreadable:
        ensure_runnable(session, repo, plan.id)
    assert str(unreadable.value).startswith(
        f"plan {plan.id}: {IN_THE_STORE} cannot be read as the plan: {reason}"
    )
    assert plan_readiness(session, repo, plan).status == "unreadable"


def test_a_plan_recorded_before_the_store_kept_notebooks_uses_its_file(
    repo: Repository, session: Session
) -> None:
    plan = _plan(repo, session)
    session.execute(delete(PlanNotebookRow).where(PlanNotebookRow.plan_id == plan.id))
    session.commit()
    assert ensure_runnable(session, repo, plan.id).id == plan.id
    (repo.root / plan.notebook_path).unlink()
    with pytest.raises(PlanUnreadableError, match="cannot be read as the plan: file not found"):
        ensure_runnable(session, repo, plan.id)
    assert plan_readiness(session, repo, plan).status == "unreadable"


def test_a_cache_that_cannot_be_written_does_not_stop_the_plan(
    repo: Repository, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan(repo, session)
    (repo.root / plan.notebook_path).unlink()

    def full_disk(path: Path, text: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plan_store, "write_atomic", full_disk)
    assert ensure_runnable(session, repo, plan.id).id == plan.id
    assert not (repo.root / plan.notebook_path).exists()
