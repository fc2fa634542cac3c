"""A service in process for the REST tests: the app on a repository, alice (operator), bob
(reviewer), root (admin) and alice-as-admin, each with a real API token."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from runbook.api.app import create_app
from runbook.model.repository import Repository
from runbook.model.roles import Role
from runbook.orchestrate.tokens import create_token
from tests.builders import write_runbook

USERS = {
    "alice": ("alice@example.org", Role.OPERATOR),
    "bob": ("bob@example.org", Role.REVIEWER),
    "root": ("root@example.org", Role.ADMIN),
    "alice-admin": ("alice@example.org", Role.ADMIN),
    "viewer": ("vera@example.org", Role.VIEWER),
}


@dataclass
class Service:
    """The app's client and a header per user."""

    client: TestClient
    secrets: dict[str, str]

    def headers(self, who: str, key: str | None = None) -> dict[str, str]:
        """``who``'s Authorization header (and an Idempotency-Key)."""
        made = {"Authorization": f"Bearer {self.secrets[who]}"}
        if key is not None:
            made["Idempotency-Key"] = key
        return made

    def post(self, who: str, path: str, body: Any = None, key: str | None = None) -> Any:
        """POST ``body`` as ``who``."""
        return self.client.post(path, json=body, headers=self.headers(who, key))

    def get(self, who: str, path: str, **params: Any) -> Any:
        """GET as ``who``."""
        return self.client.get(path, params=params, headers=self.headers(who))

    def wait_for(self, path: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """GET ``path`` (as root) until the record it shows is ``done``: waits on the
        store's state, a poll bounded by a deadline that only a hang reaches."""
        deadline = time.monotonic() + 300
        while True:
            shown = self.get("root", path)
            assert shown.status_code == 200, shown.text
            if done(shown.json()):
                return dict(shown.json())
            assert time.monotonic() < deadline, f"{path} never finished: {shown.json()}"
            time.sleep(0.05)


def write_restart(repo: Repository) -> None:
    """runbooks/restart.ipynb: a ``service`` parameter (str) and a print."""
    write_runbook(
        repo.runbooks_dir / "restart.ipynb",
        [("code", "service = 'web'", ["parameters"]), ("code", "print(service)", [])],
        title="Restart",
    )


@contextmanager
def service_on(repo: Repository, session: Session) -> Iterator[Service]:
    """The app on ``repo`` (lifespan running) with a token per user of :data:`USERS`."""
    secrets = {
        who: create_token(session, user=user, role=role, created_by="root").secret
        for who, (user, role) in USERS.items()
    }
    session.commit()
    with TestClient(create_app(repo), raise_server_exceptions=False) as client:
        yield Service(client, secrets)
        # Runs the server started end before the store goes away.
        assert client.app.state.background.join(300)  # type: ignore[attr-defined]
