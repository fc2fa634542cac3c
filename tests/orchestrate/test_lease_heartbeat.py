"""The lease heartbeat lives through a store that drops its connections."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from runbook.orchestrate.leases import LeaseHeartbeat
from runbook.store.db import make_engine
from tests.tcpproxy import TcpProxy


@pytest.mark.postgres
def test_the_heartbeat_beats_again_once_the_store_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUNBOOK_LEASE_SECONDS", "0.6")  # a beat every 0.2 s
    beats = threading.Semaphore(0)

    def beat(session: Session) -> None:
        session.execute(text("SELECT 1"))
        beats.release()

    with TcpProxy(("127.0.0.1", 5432)) as proxy:
        engine = make_engine(f"postgresql://postgres@127.0.0.1:{proxy.port}/test")
        try:
            with LeaseHeartbeat(sessionmaker(engine), beat, "test"):
                assert beats.acquire(timeout=60)
                proxy.cut()
                assert proxy.refused.wait(60)  # a beat met the dropped store
                proxy.restore()
                while beats.acquire(blocking=False):
                    pass  # beats counted before the cut
                assert beats.acquire(timeout=60), "the heartbeat stopped for good"
        finally:
            engine.dispose()
