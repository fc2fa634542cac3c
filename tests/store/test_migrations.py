"""The packaged Alembic migrations against the table declarations."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session

from runbook.errors import StoreError
from runbook.model.plan import Plan
from runbook.model.review import Review, Verdict
from runbook.store import idempotency, token_rows
from runbook.store.db import (
    HEAD_REVISION,
    alembic_config,
    current_revision,
    downgrade,
    ensure_schema,
    make_engine,
    session_scope,
    upgrade,
)
from runbook.store.plans import create_plan, plan_ids
from runbook.store.reviews import add_review, list_reviews
from runbook.store.tables import Base

# Tables declared outside runbook.store.tables join its metadata when imported.
_DECLARED_ELSEWHERE = (idempotency, token_rows)

MakePlan = Callable[..., Plan]


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def test_single_head_equal_to_head_revision() -> None:
    assert _script().get_heads() == [HEAD_REVISION]


def test_history_is_linear_and_every_revision_has_a_downgrade() -> None:
    revisions = list(_script().walk_revisions())
    assert revisions[-1].down_revision is None
    for newer, older in itertools.pairwise(revisions):
        assert newer.down_revision == older.revision
    for revision in revisions:
        assert callable(getattr(revision.module, "downgrade", None))


def test_tables_match_migrations(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def _unquoted(row: Any) -> tuple[Any, ...]:
    """The row with its CREATE statement's table name unquoted, as create_all writes it.

    A table a batch migration recreated was renamed into place, and SQLite stores a renamed
    table's name quoted: the same statement.
    """
    kind, name, table, sql = row
    return (kind, name, table, sql.replace(f'CREATE TABLE "{name}" (', f"CREATE TABLE {name} (", 1))


def test_sqlite_ddl_is_exactly_what_the_tables_declare(tmp_path: Path) -> None:
    # Stricter than compare_metadata, which overlooks e.g. constraint names and
    # AUTOINCREMENT: the stored CREATE statements must be the ones create_all would emit.
    query = (
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE name NOT LIKE 'alembic%' AND name NOT LIKE 'sqlite%' ORDER BY name"
    )
    migrated = make_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    declared = make_engine(f"sqlite:///{tmp_path / 'declared.db'}")
    try:
        upgrade(migrated)
        Base.metadata.create_all(declared)
        with migrated.connect() as one, declared.connect() as other:
            rows = one.exec_driver_sql(query).fetchall()
            assert [_unquoted(r) for r in rows] == other.exec_driver_sql(query).fetchall()
        assert {row.name for row in rows} == {
            "plans",
            "plan_notebooks",
            "reviews",
            "ix_plans_runbook_path",
            "ix_reviews_plan_id",
            "runs",
            "ix_runs_plan_id",
            "ix_runs_state",
            "cell_events",
            "ix_cell_events_run_id",
            "audit_events",
            "ix_audit_events_subject",
            "audit_events_no_update",
            "audit_events_no_delete",
            "workflow_runs",
            "ix_workflow_runs_workflow",
            "ix_workflow_runs_state",
            "ix_workflow_runs_natural_key",
            "workflow_tasks",
            "ix_workflow_tasks_workflow_run_id",
            "scheduler_state",
            "playbook_definitions",
            "playbook_runs",
            "ix_playbook_runs_playbook",
            "ix_playbook_runs_state",
            "ix_playbook_runs_finish_ts",
            "ix_playbook_runs_plan_id",
            "playbook_targets",
            "target_locks",
            "ix_target_locks_run_id",
            "standing_approvals",
            "ix_standing_approvals_runbook_path",
            "run_events",
            "run_gates",
            "ix_run_gates_run_id",
            "run_controls",
            "ix_run_controls_run_id",
            "api_tokens",
            "idempotency_keys",
            "ix_idempotency_keys_principal_key",
            "ix_idempotency_keys_created_at",
            "catalog_revisions",
            "catalog_alerts",
            "ix_catalog_alerts_service",
            "ix_catalog_alerts_action",
            "catalog_switches",
            "catalog_auto_locks",
        }
    finally:
        migrated.dispose()
        declared.dispose()


def test_constraint_names_follow_the_naming_convention(engine: Engine) -> None:
    inspector = inspect(engine)
    assert inspector.get_pk_constraint("plans")["name"] in {"pk_plans", None}
    assert {ix["name"] for ix in inspector.get_indexes("plans")} == {"ix_plans_runbook_path"}
    # PostgreSQL lists the index behind a unique constraint among the indexes; SQLite does not.
    indexes = {ix["name"] for ix in inspector.get_indexes("reviews")} - {"uq_reviews_signature"}
    assert indexes == {"ix_reviews_plan_id"}
    unique = inspector.get_unique_constraints("reviews")
    assert [u["name"] for u in unique] == ["uq_reviews_signature"]
    (foreign_key,) = inspector.get_foreign_keys("reviews")
    assert foreign_key["name"] == "fk_reviews_plan_id_plans"
    assert foreign_key["options"].get("ondelete") == "CASCADE"
    if engine.dialect.name == "postgresql":
        # SQLite does not report primary key names; PostgreSQL must have ours.
        assert inspector.get_pk_constraint("plans")["name"] == "pk_plans"
        assert inspector.get_pk_constraint("reviews")["name"] == "pk_reviews"


def _count_rows(session: Session) -> dict[str, Any]:
    return {"plans": plan_ids(session), "reviews": len(list_reviews(session, "p-1"))}


def test_downgrade_to_base_then_upgrade(engine: Engine, make_plan: MakePlan) -> None:
    plan = make_plan("p-1")
    with session_scope(engine) as session:
        create_plan(session, plan)
        add_review(
            session,
            Review(
                plan_id="p-1",
                verdict=Verdict.APPROVED,
                reviewer="bob",
                plan_sha256=plan.sha256,
                reviewed_at=plan.planned_at,
            ),
        )
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(engine)
    assert current_revision(engine) == HEAD_REVISION
    with session_scope(engine) as session:
        # The initial revision owns every table: going below it cannot keep rows.
        assert _count_rows(session) == {"plans": [], "reviews": 0}
        create_plan(session, plan)
        assert _count_rows(session) == {"plans": ["p-1"], "reviews": 0}


def test_upgrade_step_by_step_from_empty(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        for script in reversed(list(_script().walk_revisions())):
            upgrade(engine, script.revision)
            assert current_revision(engine) == script.revision
        assert current_revision(engine) == HEAD_REVISION
    finally:
        engine.dispose()


def test_unknown_target_revision_is_a_store_error(engine: Engine) -> None:
    with pytest.raises(StoreError, match="cannot migrate to revision 'nope'"):
        upgrade(engine, "nope")
    assert current_revision(engine) == HEAD_REVISION


def test_sqlite_foreign_keys_are_back_on_after_migrating(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'runbook.db'}")
    try:
        upgrade(engine)
        downgrade(engine, "base")
        upgrade(engine)
        # The pool hands back the connection the migrations used, pragma restored.
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_concurrent_first_use(store_url: str) -> None:
    # Several commands starting at once on a fresh database: one migrates, the others wait
    # for it and find the schema at head instead of failing on "table already exists".
    assert _first_use_by_four(store_url) == []
    engine = make_engine(store_url)
    try:
        assert current_revision(engine) == HEAD_REVISION
    finally:
        engine.dispose()


def test_migrations_refuse_to_run_without_a_connection() -> None:
    with pytest.raises(RuntimeError, match=r"config.attributes\['connection'\]"):
        command.upgrade(alembic_config(), "head")


def test_many_first_uses_of_a_fresh_sqlite_file(tmp_path: Path) -> None:
    # Switching a fresh file to WAL can fail at once with "database is locked" while another
    # connection migrates it; before the retry this failed in about 1 round in 6.
    for round_number in range(15):
        errors = _first_use_by_four(f"sqlite:///{tmp_path / str(round_number) / 'runbook.db'}")
        assert errors == [], f"round {round_number}: {errors[0]}"


def _first_use_by_four(url: str) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def first_use() -> None:
        engine = make_engine(url)
        try:
            barrier.wait()
            ensure_schema(engine)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
