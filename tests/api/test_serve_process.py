"""``runbook serve`` as a real process on loopback, on a real PostgreSQL store, called with a
token the CLI created; the proxy header believed from the proxy's address only."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from runbook.model.repository import Repository, find_repository
from tests.builders import write_runbook
from tests.cli.process import RUNBOOK, runbook

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
STARTED = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@pytest.fixture
def store() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"runbook_serve_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def served(tmp_path: Path, store: str) -> Iterator[tuple[Repository, str, str]]:
    """A repository on ``store`` and the base URL of `runbook serve` on it."""
    folder = tmp_path / "ops"
    done = subprocess.run(
        [RUNBOOK, "init", str(folder)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    config = folder / "runbook.toml"
    config.write_text(
        config.read_text()
        + '\n[service]\nproxy_header = "X-Forwarded-User"\ntrusted_proxies = ["127.0.0.1"]\n'
    )
    repo = find_repository(folder)
    write_runbook(repo.runbooks_dir / "restart.ipynb", [("code", "print('hi')", [])])
    server = subprocess.Popen(
        [RUNBOOK, "serve", "--port", "0"],
        cwd=folder,
        env={**os.environ, "RUNBOOK_DB_URL": store},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert server.stderr is not None
    try:
        lines = []
        for line in server.stderr:  # wait on the startup line, however long it takes
            lines.append(line)
            match = STARTED.search(line)
            if match:
                break
        else:
            pytest.fail("runbook serve ended before it listened:\n" + "".join(lines))
        yield repo, f"http://127.0.0.1:{match.group(1)}", store
    finally:
        server.terminate()
        rest = server.communicate(timeout=60)[1]
    # uvicorn shuts down gracefully (the store disposed of), then re-raises the SIGTERM.
    assert server.returncode in {0, -signal.SIGTERM}, rest
    assert "Application shutdown complete" in rest


def test_a_cli_token_reads_the_served_store(served: tuple[Repository, str, str]) -> None:
    repo, url, store = served
    created = runbook(
        repo,
        "token",
        "create",
        "--user",
        "alice",
        "--role",
        "operator",
        "--json",
        RUNBOOK_DB_URL=store,
    )
    assert created.returncode == 0, created.stderr
    secret = json.loads(created.stdout)["secret"]
    auth = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{url}/runbooks", timeout=30).status_code == 401
    me = httpx.get(f"{url}/me", headers=auth, timeout=30).json()
    assert (me["user"], me["role"], me["kind"]) == ("alice", "operator", "token")
    listed = httpx.get(f"{url}/runbooks", headers=auth, timeout=30).json()
    assert [r["name"] for r in listed] == ["restart"]
    events = httpx.get(f"{url}/audit", headers=auth, timeout=30).json()
    assert [e["kind"] for e in events] == ["token.created"]
    token_id = json.loads(created.stdout)["id"]
    assert runbook(repo, "token", "revoke", token_id, RUNBOOK_DB_URL=store).returncode == 0
    # The server reads a token again at most TOKEN_CACHE_SECONDS after it last did: wait
    # for the refusal (a deadline only a revocation that never takes effect reaches).
    deadline = time.monotonic() + 60
    while (refused := httpx.get(f"{url}/me", headers=auth, timeout=30)).status_code == 200:
        assert time.monotonic() < deadline, "the revoked token is still accepted"
        time.sleep(0.1)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"].endswith("is revoked")


def test_the_proxy_header_counts_from_the_proxy_address_only(
    served: tuple[Repository, str, str],
) -> None:
    _, url, _ = served
    header = {"X-Forwarded-User": "erin"}
    me = httpx.get(f"{url}/me", headers=header, timeout=30).json()
    assert (me["user"], me["kind"]) == ("erin", "proxy")
    # Another loopback address is not the proxy: the same header is ignored.
    elsewhere = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=elsewhere, timeout=30) as client:
        forged = client.get(f"{url}/me", headers={"X-Forwarded-User": "admin"})
    assert forged.status_code == 401
    assert forged.json()["error"]["kind"] == "CredentialsError"
