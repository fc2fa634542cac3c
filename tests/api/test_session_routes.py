"""``/sessions``, ``/autosave`` and ``/environments`` on the app, with real JupyterLab
servers: two users' sessions, owner-only access, limits refused, autosave and restore, and
the server's shutdown autosaving what is still running."""

from __future__ import annotations

import subprocess

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.testclient import WebSocketDenialResponse

from runbook.api.app import create_app
from runbook.model.repository import Repository
from runbook.model.roles import Role
from runbook.orchestrate.tokens import create_token
from tests.orchestrate.sessions.conftest import START_BOUND, commit_all, git, write_text

pytestmark = [pytest.mark.kernel, pytest.mark.slow, pytest.mark.timeout(4 * START_BOUND)]

PEOPLE = {
    "alice": Role.OPERATOR,
    "dave": Role.OPERATOR,
    "root": Role.ADMIN,
    "bob": Role.REVIEWER,
}


def test_two_users_sessions_through_the_api(repo: Repository, session: Session) -> None:
    subprocess.run(["git", "checkout", "-qb", "main"], cwd=repo.root, check=True)
    commit_all(repo.root)
    secrets = {
        who: create_token(session, user=who, role=role, created_by="root").secret
        for who, role in PEOPLE.items()
    }
    session.commit()

    def auth(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secrets[who]}"}

    app = create_app(repo)
    with TestClient(app, raise_server_exceptions=False) as client:
        options = client.get("/sessions/options", headers=auth("alice")).json()
        assert options["memory_mb"] == {"default": 4096, "max": 16384}
        too_big = {"name": "draft", "options": {"memory_mb": 10**6}}
        refused = client.post("/sessions", json=too_big, headers=auth("alice"))
        assert refused.status_code == 422 and "'memory_mb'" in refused.json()["error"]["message"]
        assert client.get("/sessions", headers=auth("alice")).json() == []
        assert client.get("/sessions", headers=auth("bob")).status_code == 403

        started = client.post("/sessions", json={"name": "draft"}, headers=auth("alice"))
        assert started.status_code == 201, started.text
        assert started.json()["state"] == "running"
        _, token = app.state.sessions.endpoint("alice", "draft")
        assert token not in started.text
        theirs = client.post("/sessions", json={"name": "draft"}, headers=auth("dave"))
        assert theirs.status_code == 201, theirs.text
        assert theirs.json()["branch"] == "session/dave/draft"

        mine = client.get("/sessions", headers=auth("alice")).json()
        assert [(s["owner"], s["name"]) for s in mine] == [("alice", "draft")]
        everyone = client.get("/sessions", headers=auth("root")).json()
        assert sorted(s["owner"] for s in everyone) == ["alice", "dave"]
        assert client.get("/sessions/draft?owner=alice", headers=auth("dave")).status_code == 404
        seen = client.get("/sessions/draft?owner=alice", headers=auth("root"))
        assert seen.json()["owner"] == "alice"
        assert client.delete("/sessions/draft?owner=alice", headers=auth("dave")).status_code == 404

        write_text(app.state.sessions, "alice", "draft", "notes.txt", "alice's words\n")
        write_text(app.state.sessions, "dave", "draft", "notes.txt", "dave's words\n")
        logs = client.get("/sessions/draft/logs", headers=auth("alice")).json()["lines"]
        assert logs and all(token not in line for line in logs)

        stopped = client.delete("/sessions/draft", headers=auth("alice")).json()
        assert stopped["state"] == "stopped" and stopped["autosave"].startswith("autosave/alice/")
        assert git(repo.root, "show", f"{stopped['autosave']}:notes.txt") == "alice's words"
        listed = client.get("/autosave", headers=auth("alice")).json()
        assert [a["name"] for a in listed] == [stopped["autosave"]]
        assert client.get("/autosave", headers=auth("dave")).json() == []
        name = stopped["autosave"]
        assert client.delete(f"/autosave/{name}", headers=auth("dave")).status_code == 404

        body = {"name": "draft", "restore": True}
        again = client.post("/sessions", json=body, headers=auth("alice")).json()
        assert again["restored_from"] == name
        client.delete("/sessions/draft", headers=auth("alice"))
        assert client.delete(f"/autosave/{name}", headers=auth("alice")).status_code == 204
        assert git(repo.root, "branch", "--list", name) == ""

        found = client.get("/environments?name=python3", headers=auth("alice")).json()
        assert found["exists"] is True and found["language"] == "python"
        missing = client.get("/environments?name=no-such-kernel", headers=auth("alice")).json()
        assert missing["exists"] is False
    # The server stopped with dave's session running: his work is autosaved.
    branches = git(repo.root, "branch", "--list", "autosave/dave/*", "--format=%(refname:short)")
    assert branches and git(repo.root, "show", f"{branches}:notes.txt") == "dave's words"


def _execute(client: TestClient, url: str, headers: dict[str, str], code: str) -> str:
    """Evaluate ``code`` on a kernel through its channels WebSocket: its value, read from
    the shell channel's reply (iopub may start after the request on a fresh connection)."""
    request = {
        "header": {
            "msg_id": "m1",
            "username": "t",
            "session": "s1",
            "msg_type": "execute_request",
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": "",
            "silent": False,
            "store_history": False,
            "allow_stdin": False,
            "user_expressions": {"value": code},
        },
        "channel": "shell",
        "buffers": [],
    }
    with client.websocket_connect(url, headers=headers) as socket:
        socket.send_json(request)
        for _ in range(500):  # a bound, not a time: the kernel's messages, in order
            message = socket.receive_json()
            kind = message["msg_type"]
            if kind == "execute_reply" and message["parent_header"].get("msg_id") == "m1":
                value: str = message["content"]["user_expressions"]["value"]["data"]["text/plain"]
                return value
    raise AssertionError("no execute_reply")


def test_the_proxy_reaches_only_the_callers_own_session(repo: Repository, session: Session) -> None:
    subprocess.run(["git", "checkout", "-qb", "main"], cwd=repo.root, check=True)
    commit_all(repo.root)
    secrets = {
        who: create_token(session, user=who, role=role, created_by="root").secret
        for who, role in PEOPLE.items()
    }
    session.commit()

    def auth(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secrets[who]}"}

    app = create_app(repo)
    with TestClient(app, raise_server_exceptions=False) as client:
        for who, name in (("alice", "alpha"), ("dave", "beta")):
            started = client.post("/sessions", json={"name": name}, headers=auth(who))
            assert started.status_code == 201, started.text
        _, token = app.state.sessions.endpoint("alice", "alpha")
        notebook = {"type": "file", "format": "text", "content": "through the proxy\n"}
        saved = client.put(
            "/sessions/alpha/api/contents/p.txt", json=notebook, headers=auth("alice")
        )
        assert saved.status_code == 201, saved.text
        listing = client.get("/sessions/alpha/api/contents", headers=auth("alice"))
        assert listing.status_code == 200 and "p.txt" in listing.text
        kernel = client.post("/sessions/alpha/api/kernels", json={}, headers=auth("alice"))
        assert kernel.status_code == 201, kernel.text
        channels = f"/sessions/alpha/api/kernels/{kernel.json()['id']}/channels"
        assert _execute(client, channels, auth("alice"), "6 * 7") == "42"
        # The handshake is answered with the service's JSON error: not theirs, not allowed.
        for stranger, status in (("dave", 404), ("bob", 403)):
            with pytest.raises(WebSocketDenialResponse) as refused:
                _execute(client, channels, auth(stranger), "1")
            assert refused.value.status_code == status
        lab = client.get("/sessions/alpha/lab", headers=auth("alice"))
        assert lab.status_code == 200
        for answer in (saved, listing, kernel, lab):
            assert token not in answer.text and token not in str(answer.headers)
        # Each user is refused the other's session with their own credentials.
        assert client.get("/sessions/alpha/api/contents", headers=auth("dave")).status_code == 404
        assert client.get("/sessions/beta/api/contents", headers=auth("alice")).status_code == 404
        assert client.get("/sessions/alpha/api/contents", headers=auth("bob")).status_code == 403
        assert client.get("/sessions/alpha/api/contents").status_code == 401
        stopped = client.delete("/sessions/alpha", headers=auth("alice")).json()
        assert git(repo.root, "show", f"{stopped['autosave']}:p.txt") == "through the proxy"
        # A stopped session is no longer reachable.
        assert client.get("/sessions/alpha/api/contents", headers=auth("alice")).status_code == 404
