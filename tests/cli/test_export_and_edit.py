"""``runbook export`` on a recorded run, and ``runbook edit`` as a real JupyterLab process."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest

from runbook.config import database_url
from runbook.model.audit import EventKind, run_subject
from runbook.model.plan import Plan, PlanState
from runbook.model.repository import Repository
from runbook.model.review import Review, Verdict
from runbook.model.run import CellEvent, CellStatus, Decision, Run, RunMode, RunState
from runbook.store.audit import append_event
from runbook.store.db import ensure_schema, make_engine, session_scope
from runbook.store.plans import create_plan
from runbook.store.reviews import add_review
from runbook.store.runs import add_cell_event, create_run, finish_run
from tests.conftest import Result

Cli = Callable[..., Result]
RUNBOOK = str(Path(sys.executable).with_name("runbook"))
RUN_ID = "20250301-120000-e0e0"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PLAN_SHA = "5e" * 32


@pytest.fixture
def run_id(repo: Repository) -> str:
    """A finished run in the store, with its executed notebook holding a script output."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["runbook"] = {"title": "Restart database"}
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Restart\n\n| host | state |\n|---|---|\n| db1 | up |"),
        nbformat.v4.new_code_cell(
            "restart()",
            execution_count=1,
            metadata={"tags": ["confirm"]},
            outputs=[
                nbformat.v4.new_output("stream", text="restarted db1\n"),
                nbformat.v4.new_output(
                    "display_data",
                    data={"text/html": "<b>done</b><script>document.title='PWNED'</script>"},
                ),
            ],
        ),
    ]
    relative = f"runs/{RUN_ID}/restart-database.ipynb"
    (repo.root / relative).parent.mkdir(parents=True)
    nbformat.write(notebook, repo.root / relative)
    plan = Plan(
        id="p-export",
        runbook_path="runbooks/restart-database.ipynb",
        title="Restart database",
        sha256=PLAN_SHA,
        parameters={"host": "db1", "password": "env:PGPASSWORD"},
        planned_by="alice",
        planned_at=T0,
        state=PlanState.APPROVED,
        notebook_path="runs/plans/p-export.ipynb",
        review_required=False,
        content="{}",
    )
    run = Run(
        id=RUN_ID,
        plan_id=plan.id,
        executor="bob",
        mode=RunMode.INTERACTIVE,
        state=RunState.RUNNING,
        started_at=T0,
        notebook_path=relative,
        lease_owner="test:1",
    )
    engine = make_engine(database_url(repo.root))
    try:
        ensure_schema(engine)
        with session_scope(engine) as session:
            create_plan(session, plan)
            add_review(
                session,
                Review(
                    plan_id=plan.id,
                    verdict=Verdict.APPROVED,
                    reviewer="carol",
                    plan_sha256=PLAN_SHA,
                    reviewed_at=T0,
                    comment="<script>alert('review')</script> looks fine",
                ),
            )
            create_run(session, run)
            # As the engine records them: bob confirms cell 1; cell 2 is interrupted and
            # bob skips it after Ctrl-C.
            subject = run_subject(RUN_ID)
            for kind, actor, payload in (
                (EventKind.CELL_DECIDED, "bob", {"cell": 1, "decision": "yes"}),
                (EventKind.CELL_FINISHED, "bob", {"cell": 1, "status": "succeeded"}),
                (EventKind.CELL_FINISHED, "bob", {"cell": 2, "status": "interrupted"}),
                (EventKind.CELL_DECIDED, "bob", {"cell": 2, "decision": "skip"}),
            ):
                append_event(session, kind=kind, actor=actor, subject=subject, payload=payload)
            add_cell_event(
                session,
                CellEvent(
                    RUN_ID,
                    1,
                    "code",
                    CellStatus.SUCCEEDED,
                    ("confirm",),
                    decision=Decision.YES,
                    decided_by="bob",
                    started_at=T0 + timedelta(seconds=1),
                    ended_at=T0 + timedelta(seconds=3.5),
                ),
            )
            finish_run(session, RUN_ID, 1, RunState.SUCCEEDED, now=T0 + timedelta(seconds=4))
    finally:
        engine.dispose()
    return RUN_ID


def test_export_html_writes_a_sanitized_report(run_cli: Cli, repo: Repository, run_id: str) -> None:
    result = run_cli("export", run_id, "--to", "html")
    assert result.code == 0, result.err
    assert result.out.strip() == f"runs/{run_id}/report.html"
    page = (repo.root / result.out.strip()).read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "PWNED" not in page
    assert "Content-Security-Policy" in page and "<b>done</b>" in page
    assert "confirmed" in page and "2.50 s" in page and "restarted db1" in page


def test_export_markdown_as_json_and_to_a_chosen_path(
    run_cli: Cli, repo: Repository, run_id: str
) -> None:
    result = run_cli("export", run_id, "--to", "md", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {
        "run": run_id,
        "format": "md",
        "path": f"runs/{run_id}/report.md",
    }
    text = (repo.root / f"runs/{run_id}/report.md").read_text(encoding="utf-8")
    assert "| 1 | code | confirm | succeeded | 2.50 s | confirmed | bob |  |" in text
    chosen = run_cli("export", run_id, "-o", "reports/restart.html")
    assert chosen.code == 0, chosen.err
    assert (repo.root / "reports/restart.html").is_file()


def test_export_html_shows_the_plan_its_reviews_and_every_gate_decision(
    run_cli: Cli, repo: Repository, run_id: str
) -> None:
    result = run_cli("export", run_id, "--to", "html")
    assert result.code == 0, result.err
    page = (repo.root / result.out.strip()).read_text(encoding="utf-8")
    section = page[page.index("<h3>Plan and approval</h3>") : page.index("<h3>Cells</h3>")]
    assert "<th>Planned by</th><td>alice</td>" in section
    assert f"<th>Plan sha256</th><td>{PLAN_SHA}</td>" in section
    assert "<th>Standing approval</th><td>none</td>" in section
    assert "<th>Executor</th><td>bob</td>" in section
    assert "<td>password</td><td>&quot;env:PGPASSWORD&quot;</td>" in section
    assert "<td>carol</td><td>approved</td>" in section and "<td>claimed</td>" in section
    assert "&lt;script&gt;alert(&#x27;review&#x27;)&lt;/script&gt; looks fine" in section
    assert "<script" not in page.lower()
    gates = section[section.index('class="rb-gates"') :]
    assert "<td>1</td>" in gates and "<td>at the gate</td><td>confirmed</td><td>bob</td>" in gates
    assert "<td>2</td>" in gates and "<td>after Ctrl-C</td><td>skipped</td><td>bob</td>" in gates


def test_export_markdown_shows_the_plan_and_the_skip_after_ctrl_c(
    run_cli: Cli, repo: Repository, run_id: str
) -> None:
    assert run_cli("export", run_id, "--to", "md").code == 0
    text = (repo.root / f"runs/{run_id}/report.md").read_text(encoding="utf-8")
    assert f"| Plan sha256 | {PLAN_SHA} |" in text and "| Planned by | alice |" in text
    assert "| carol | approved |" in text and "| claimed | unsigned |" in text
    assert "| after Ctrl-C | skipped | bob |" in text


def test_export_writes_wherever_the_local_user_names(
    run_cli: Cli, repo: Repository, run_id: str, tmp_path: Path
) -> None:
    # Relative to the user's current folder (the repository root here), `..` and all.
    result = run_cli("export", run_id, "-o", "../outside.html")
    assert result.code == 0, result.err
    outside = (repo.root.parent / "outside.html").resolve()
    assert result.out.strip() == str(outside) and outside.is_file()
    assert "<script" not in outside.read_text(encoding="utf-8").lower()
    # Absolute, in a folder not yet made, and as JSON.
    chosen = tmp_path / "elsewhere" / "deep" / "restart.md"
    result = run_cli("export", run_id, "--to", "md", "-o", str(chosen), "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["path"] == str(chosen.resolve()) and chosen.is_file()


def test_export_to_a_folder_or_no_name_is_a_usage_error(
    run_cli: Cli, repo: Repository, run_id: str, tmp_path: Path
) -> None:
    for bad in (str(tmp_path), "", "a\x00b"):
        result = run_cli("export", run_id, "-o", bad)
        assert result.code == 2, (bad, result.err)
        assert result.err.startswith("runbook: error:") and result.err.count("\n") == 1


def test_names_resolved_inside_the_repository_stay_inside(
    run_cli: Cli, repo: Repository, run_id: str
) -> None:
    # Without -o the path is built from the run id, through the resolver: a hostile id is
    # refused (more in tests/cli/test_hostile_ids.py), and nothing is written.
    result = run_cli("export", "../runbooks")
    assert result.code == 2
    assert not list(repo.runbooks_dir.glob("report.*"))


def test_export_of_an_unknown_run_is_a_usage_error(run_cli: Cli) -> None:
    result = run_cli("export", "r-nope", "--to", "html")
    assert result.code == 2 and "no such run" in result.err


def test_pdf_export_without_chromium_says_how_to_get_it(
    run_cli: Cli, run_id: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RUNBOOK_CHROMIUM", str(tmp_path / "no-chromium"))
    result = run_cli("export", run_id, "--to", "pdf")
    assert result.code == 1
    assert "PDF export needs Chromium: apt-get install chromium" in result.err


def test_edit_of_an_unknown_runbook_is_a_usage_error(run_cli: Cli) -> None:
    result = run_cli("edit", "no-such-runbook", "--no-browser")
    assert result.code == 2 and "no such runbook" in result.err


def _jupyter_pids(root: Path) -> list[int]:
    """Processes whose command line serves ``root``."""
    marker = f"--ServerApp.root_dir={root}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _argv_holding(secret: str) -> list[int]:
    holders = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if secret.encode() in (entry / "cmdline").read_bytes():
                    holders.append(int(entry.name))
            except OSError:
                continue
    return holders


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no URL within {timeout} s")
    return process.stdout.readline()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def edit_env(tmp_path: Path) -> dict[str, str]:
    """JupyterLab's settings and workspaces in the test's folder, not the developer's."""
    return {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
        "RUNBOOK_DB_PASSWORD": "store-credential-canary",
    }


@pytest.fixture
def editor(repo: Repository, edit_env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """``runbook edit restart-database --no-browser`` as a real process."""
    created = subprocess.run(
        [RUNBOOK, "create", "Restart database"],
        cwd=repo.root,
        env=edit_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    process = subprocess.Popen(
        [RUNBOOK, "edit", "restart-database", "--no-browser"],
        cwd=repo.root,
        env=edit_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        for pid in _jupyter_pids(repo.root):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_edit_serves_the_runbook_behind_a_token_and_stops_cleanly(
    repo: Repository, editor: subprocess.Popen[str], stop: signal.Signals
) -> None:
    line = _read_line(editor, timeout=180)
    match = re.fullmatch(
        r"http://127\.0\.0\.1:(\d+)/lab/tree/runbooks/restart-database\.ipynb\?token=([0-9a-f]+)\n",
        line,
    )
    assert match, line
    port, token = match.groups()
    assert len(token) >= 32
    base = f"http://127.0.0.1:{port}"
    assert _status(f"{base}/api/status?token={token}") == 200
    assert _status(f"{base}/api/contents") == 403
    assert _status(f"{base}/api/contents?token={'0' * 64}") == 403
    servers = _jupyter_pids(repo.root)
    assert len(servers) == 1
    # Kernels started in the lab inherit its environment: no store credentials in it.
    assert b"store-credential-canary" not in Path(f"/proc/{servers[0]}/environ").read_bytes()
    assert _argv_holding(token) == []  # the token is in no process's command line

    editor.send_signal(stop)
    assert editor.wait(120) == 0  # a bound against a hang, not a speed to meet
    assert editor.stderr is not None and "stopped" in editor.stderr.read()
    assert _jupyter_pids(repo.root) == []


@pytest.mark.slow
def test_edit_reports_a_server_that_cannot_start(
    repo: Repository, edit_env: dict[str, str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [RUNBOOK, "edit", "--port", str(port), "--no-browser"],
            cwd=repo.root,
            env=edit_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=90,
        )
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("runbook: error: JupyterLab exited with code 1")
    assert str(port) in last
    assert _jupyter_pids(repo.root) == []


def test_export_to_a_path_that_cannot_be_written_fails_in_one_line(
    run_cli: Cli, run_id: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli("export", run_id, "-o", str(blocker / "report.html"))
    assert result.code == 1
    assert result.err.startswith(f"runbook: error: cannot write {blocker / 'report.html'}: ")
    assert result.err.count("\n") == 1 and "internal error" not in result.err
