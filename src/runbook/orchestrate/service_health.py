"""Whether a service process may take requests: its store reachable, its schema current,
and its executor able to start runs (``/readyz``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from runbook.errors import RunbookError
from runbook.orchestrate.run_pool import RunPool
from runbook.store.db import HEAD_REVISION, current_revision, session_scope
from runbook.store.service_figures import reachable


@dataclass(frozen=True)
class Readiness:
    """Each check's verdict: ``ok`` or what is wrong, on one line."""

    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        """Whether every check passed."""
        return all(verdict == "ok" for verdict in self.checks.values())


def readiness(engine: Engine, pool: RunPool | None) -> Readiness:
    """Check the store (one round trip), its schema revision, and the run pool (when the
    server keeps one: closed, or neither ready nor booting, it cannot start pooled runs)."""
    checks: dict[str, str] = {}
    try:
        with session_scope(engine) as session:
            reachable(session)
        checks["store"] = "ok"
    except RunbookError as error:
        checks["store"] = error.message
    if checks["store"] == "ok":
        try:
            revision = current_revision(engine)
            checks["migrations"] = (
                "ok" if revision == HEAD_REVISION else f"at {revision}, needs {HEAD_REVISION}"
            )
        except RunbookError as error:
            checks["migrations"] = error.message
    checks["executor"] = "ok" if pool is None else pool.health()
    return Readiness(checks)
