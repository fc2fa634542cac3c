"""Catalog records on SQLite and PostgreSQL: revisions, one record per alert, the switch."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from runbook.model.catalog.alert_payloads import Alert
from runbook.store.catalog_records import (
    count_alerts,
    is_paused,
    newest_revision,
    receive_alert_row,
    set_paused,
    store_revision,
)

ALERT = Alert(
    source="alertmanager",
    fingerprint="2b556ffa6e6af203",
    starts_at=datetime(2026, 12, 4, 1, 2, 3, tzinfo=UTC),
    status="firing",
    labels={"service": "checkout"},
)


def test_revisions_are_numbered_and_identical_content_stores_nothing(engine: Engine) -> None:
    sessions = sessionmaker(engine)
    definition: dict[str, Any] = {"services": [], "error_codes": [], "procedures": []}
    with sessions.begin() as session:
        first, created = store_revision(
            session, definition, source="catalog/", git_commit=None, dirty=None, imported_by="a"
        )
        assert created and first.revision == 1
        same, created = store_revision(
            session, definition, source="catalog/", git_commit=None, dirty=None, imported_by="b"
        )
        assert not created and same.revision == 1
        changed = {**definition, "services": [{"name": "x"}]}
        second, _ = store_revision(
            session, changed, source="catalog/", git_commit="abc", dirty=False, imported_by="a"
        )
        assert second.revision == 2 and newest_revision(session).git_commit == "abc"


def test_concurrent_deliveries_of_one_alert_make_one_record(engine: Engine) -> None:
    sessions = sessionmaker(engine)
    created: list[bool] = []
    ids: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def deliver() -> None:
        barrier.wait()
        for _ in range(5):
            with sessions.begin() as session:
                row, made = receive_alert_row(session, ALERT)
                with lock:
                    created.append(made)
                    ids.append(row.id)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert created.count(True) == 1 and len(set(ids)) == 1
    with sessions.begin() as session:
        assert count_alerts(session) == 1


def test_the_kill_switch(engine: Engine) -> None:
    sessions = sessionmaker(engine)
    with sessions.begin() as session:
        assert not is_paused(session)
        set_paused(session, True, by="carol", reason="drill")
        assert is_paused(session)
        set_paused(session, False, by="carol", reason=None)
        assert not is_paused(session)
