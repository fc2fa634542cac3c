"""``GET /runs/{id}/notebook|log|report.{html,md}`` served from the artifact store: who may
read them, what a report may contain whatever the store holds, and a missing artifact."""

from __future__ import annotations

import json
from collections.abc import Iterator

import nbformat
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from runbook.api.app import create_app
from runbook.model.repository import Repository
from runbook.model.roles import Role
from runbook.store.artifacts import LocalArtifacts
from tests.api.conftest import Records, Tokens, record_run, with_service

HOSTILE = "<b>bold</b><script>alert(1)</script><img src=x onerror=alert(2)>"


def _executed(text: str) -> bytes:
    """An executed notebook whose one cell printed ``text`` and displayed hostile HTML."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    cell = nbformat.v4.new_code_cell("print('x')")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=text),
        nbformat.v4.new_output("display_data", data={"text/html": HOSTILE}),
    ]
    notebook.cells = [cell]
    written: str = nbformat.writes(notebook)
    return written.encode()


@pytest.fixture
def shared(
    repo: Repository, records: Records, session: Session
) -> Iterator[tuple[TestClient, str]]:
    """An app whose artifacts live in a shared folder, holding what another server stored
    for a run of the public plan and one of the private plan; nothing under ``runs/``."""
    repo = with_service(repo, 'anonymous = true\nartifacts = "../shared"')
    store = LocalArtifacts(repo.root.parent / "shared")
    private_run = record_run(session, records.private_plan)
    session.commit()
    for run_id, text in ((records.run_id, "public output"), (private_run, "a-42 balance")):
        store.put(f"{run_id}/run.ipynb", _executed(text))
        store.put(f"{run_id}/log.jsonl", json.dumps({"event": "cell.output"}).encode() + b"\n")
    with TestClient(create_app(repo), raise_server_exceptions=False) as client:
        yield client, private_run


def test_a_viewer_reads_the_stored_notebook_log_and_reports(
    shared: tuple[TestClient, str], records: Records, tokens: Tokens, repo: Repository
) -> None:
    client, _ = shared
    viewer = Tokens.header(tokens.by_role[Role.VIEWER])
    assert not (repo.runs_dir / records.run_id).exists()
    notebook = client.get(f"/runs/{records.run_id}/notebook", headers=viewer)
    assert notebook.status_code == 200, notebook.text
    assert "public output" in notebook.text
    assert notebook.headers["content-disposition"] == 'attachment; filename="run.ipynb"'
    log = client.get(f"/runs/{records.run_id}/log", headers=viewer)
    assert log.status_code == 200 and '"cell.output"' in log.text
    for fmt in ("html", "md"):
        report = client.get(f"/runs/{records.run_id}/report.{fmt}", headers=viewer)
        assert report.status_code == 200, report.text
        assert "public output" in report.text
        assert "<script" not in report.text.lower()
        assert "onerror=" not in report.text.lower() and "alert(" not in report.text
        policy = report.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert report.headers["x-content-type-options"] == "nosniff"
    assert "<b>bold</b>" in client.get(f"/runs/{records.run_id}/report.html", headers=viewer).text


def test_anonymous_readers_never_see_a_private_runs_outputs(
    shared: tuple[TestClient, str], records: Records, tokens: Tokens
) -> None:
    client, private_run = shared
    assert client.get(f"/runs/{records.run_id}/notebook").status_code == 200
    for path in ("notebook", "log", "report.html", "report.md"):
        refused = client.get(f"/runs/{private_run}/{path}")
        assert refused.status_code == 403, path
        assert refused.json()["error"]["kind"] == "ForbiddenError"
        assert "a-42" not in refused.text
    viewer = Tokens.header(tokens.by_role[Role.VIEWER])
    assert "a-42" in client.get(f"/runs/{private_run}/notebook", headers=viewer).text


def test_a_missing_artifact_or_run_is_a_404_and_a_bad_format_a_422(
    shared: tuple[TestClient, str], records: Records, tokens: Tokens, session: Session
) -> None:
    client, _ = shared
    viewer = Tokens.header(tokens.by_role[Role.VIEWER])
    unstored = record_run(session, records.plan)
    session.commit()
    missing = client.get(f"/runs/{unstored}/notebook", headers=viewer)
    assert missing.status_code == 404
    assert missing.json()["error"]["kind"] == "UnknownArtifactError"
    assert client.get(f"/runs/{unstored}/report.html", headers=viewer).status_code == 404
    assert client.get("/runs/r-nope/log", headers=viewer).status_code == 404
    assert client.get(f"/runs/{records.run_id}/report.pdf", headers=viewer).status_code == 422
    assert client.get(f"/runs/{records.run_id}/notebook").status_code == 200  # anonymous on
    assert (
        client.get(
            f"/runs/{records.run_id}/notebook", headers=Tokens.header(tokens.revoked)
        ).status_code
        == 401
    )
