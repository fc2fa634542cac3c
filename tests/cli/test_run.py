"""`runbook run` in real processes: gates, refusals, failures, resume, dry-run, secrets."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import nbformat
import pytest

from runbook.model.repository import Repository
from tests.builders import restart_runbook, write_runbook
from tests.cli.process import runbook

pytestmark = pytest.mark.kernel


def plan(repo: Repository, name: str, *args: str) -> str:
    result = runbook(repo, "plan", name, "--as", "alice", "--json", *args)
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["id"])


def run_json(repo: Repository, *args: str, **env: str) -> tuple[int, dict[str, object], str]:
    result = runbook(repo, "run", *args, "--json", **env)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout) if result.stdout else {}, result.stderr


def test_yes_runs_to_the_end_and_records_everything(repo: Repository) -> None:
    restart_runbook(repo.runbooks_dir / "restart.ipynb")
    plan_id = plan(repo, "restart", "-p", "host", "db1")
    code, outcome, _ = run_json(repo, plan_id, "--yes", "--as", "carol")
    assert code == 0 and outcome["state"] == "succeeded"
    assert (repo.runbooks_dir / "restarted").read_text() == "db1"
    assert not (repo.runbooks_dir / "rolled-back").exists()
    executed = nbformat.read(repo.root / str(outcome["notebook"]), as_version=4)
    confirm = executed.cells[4]
    assert confirm.outputs[0]["text"] == "restarted db1\n"
    assert {"iopub.execute_input", "shell.execute_reply"} <= set(confirm.metadata["execution"])
    assert executed.cells[6].get("outputs") == []  # rollback never ran
    log = json.loads(runbook(repo, "log", str(outcome["run"]), "--json").stdout)
    statuses = {c["cell"]: (c["status"], c["decision"], c["by"]) for c in log["cells"]}
    assert statuses[4] == ("succeeded", "yes", "carol")
    assert statuses[6][0] == "skipped"
    assert all(c["duration"] is not None for c in log["cells"] if c["status"] == "succeeded")
    runs = json.loads(runbook(repo, "runs", "--json").stdout)
    assert [r["state"] for r in runs] == ["succeeded"] and runs[0]["executor"] == "carol"
    human = runbook(repo, "log", str(outcome["run"])).stdout
    assert "▶ cell 3 [precheck]" in human and "cell 4: yes by carol" in human


def test_without_yes_and_without_a_terminal_a_confirm_cell_stops_the_run(
    repo: Repository,
) -> None:
    restart_runbook(repo.runbooks_dir / "restart.ipynb")
    plan_id = plan(repo, "restart")
    code, outcome, _ = run_json(repo, plan_id)
    assert code == 3 and outcome["state"] == "aborted"
    assert "cell 4 is tagged confirm and needs an explicit yes" in str(outcome["message"])
    assert (repo.runbooks_dir / "precheck.done").exists()
    assert not (repo.runbooks_dir / "restarted").exists()


def _kernels(repo: Repository) -> set[int]:
    """Pids of the kernels running for this repository (other tests may run kernels too)."""
    pids = set()
    marker = f"RUNBOOK_REPO={repo.root}".encode()
    for entry in Path("/proc").iterdir():
        try:
            ours = marker in (entry / "environ").read_bytes().split(b"\0")
            if ours and b"ipykernel" in (entry / "cmdline").read_bytes():
                pids.add(int(entry.name))
        except (OSError, ValueError):
            continue  # not a process, or one that ended meanwhile
    return pids


def test_refusals_exit_4_with_one_line(repo: Repository) -> None:
    restart_runbook(repo.runbooks_dir / "restart.ipynb")
    never = runbook(repo, "run", "restart")
    assert never.returncode == 4
    assert never.stderr == (
        "runbook: error: restart is a runbook, not a plan: only plans run; "
        "plan it first with `runbook plan restart`\n"
    )
    write_runbook(repo.runbooks_dir / "critical.ipynb", [("code", "x = 1", [])], tags=["critical"])
    critical = plan(repo, "critical")
    unreviewed = runbook(repo, "run", critical, "--yes")
    assert unreviewed.returncode == 4 and "needs an approval" in unreviewed.stderr
    ordinary = plan(repo, "restart")
    plan_file = next((repo.root / "runs" / "plans").glob(f"{ordinary}.ipynb"))
    plan_file.write_text(plan_file.read_text().replace("localhost", "prod"))
    modified = runbook(repo, "run", ordinary, "--yes")
    assert modified.returncode == 4 and "was modified after planning" in modified.stderr
    assert not (repo.runbooks_dir / "restarted").exists()


@pytest.mark.parametrize("name", ["nope-123", "restart-a1b2c3", "../../etc/passwd", "a\tb"])
def test_a_plan_that_does_not_exist_is_a_usage_error_exit_2(repo: Repository, name: str) -> None:
    """The README's exit 2: the request is wrong (exit 4 is for a refusal by policy)."""
    restart_runbook(repo.runbooks_dir / "restart.ipynb")
    unknown = runbook(repo, "run", name, "--yes")
    assert unknown.returncode == 2, unknown.stderr
    assert unknown.stderr.count("\n") == 1 and "no such plan" in unknown.stderr
    assert "internal error" not in unknown.stderr


def test_a_refused_run_leaves_no_kernel_behind(repo: Repository) -> None:
    """`runbook run` boots the kernel before its checks; a refusal must stop it."""
    write_runbook(repo.runbooks_dir / "critical.ipynb", [("code", "x = 1", [])], tags=["critical"])
    refused = runbook(repo, "run", plan(repo, "critical"), "--yes")
    assert refused.returncode == 4
    assert _kernels(repo) == set()


def test_a_failure_fails_the_run_and_from_resumes_it(repo: Repository) -> None:
    write_runbook(
        repo.runbooks_dir / "flaky.ipynb",
        [
            (
                "code",
                "from pathlib import Path\ncounter = Path('counter')\n"
                "counter.write_text(str(int(counter.read_text() or 0) + 1) "
                "if counter.exists() else '1')",
                [],
            ),
            ("code", "Path('mutated').write_text('x')", ["confirm"]),
            ("code", "assert Path('fixed').exists(), 'not fixed yet'", []),
            ("code", "print('done', counter.read_text())", ["verify"]),
        ],
    )
    plan_id = plan(repo, "flaky")
    code, outcome, _ = run_json(repo, plan_id, "--yes")
    assert code == 1 and outcome["state"] == "failed"
    assert "AssertionError: not fixed yet" in str(outcome["message"])
    (repo.runbooks_dir / "fixed").write_text("")
    (repo.runbooks_dir / "mutated").unlink()
    code, resumed, _ = run_json(repo, plan_id, "--yes", "--from", "2")
    assert code == 0, resumed
    assert (repo.runbooks_dir / "counter").read_text() == "2"  # cell 0 re-ran to rebuild state
    assert not (repo.runbooks_dir / "mutated").exists()  # the confirm cell before --from did not
    runs = json.loads(runbook(repo, "runs", "--json").stdout)
    assert runs[0]["resumed_from"] == runs[1]["id"] and runs[0]["start_cell"] == 2
    log = json.loads(runbook(repo, "log", str(resumed["run"]), "--json").stdout)
    assert [(c["cell"], c["status"], c["by"]) for c in log["cells"][:2]] == [
        (0, "succeeded", "rebuild (--from)"),
        (1, "skipped", "before --from"),
    ]
    code, skipped, _ = run_json(repo, plan_id, "--yes", "--from", "3", "--skip-done")
    assert code == 1 and "NameError" in str(skipped["message"])  # state was not rebuilt


def test_dry_run_never_executes_confirm_cells_and_sh_only_prints(repo: Repository) -> None:
    write_runbook(
        repo.runbooks_dir / "dry.ipynb",
        [
            (
                "code",
                "from runbook.helpers import sh\nsh('touch created-by-sh', mutative=True)",
                [],
            ),
            ("code", "open('created-by-confirm', 'w').close()", ["confirm"]),
        ],
    )
    # planned past check (sh(mutative=True) outside confirm), so reviewed: the dry run
    # announces the command
    plan_id = plan(repo, "dry", "--force")
    assert runbook(repo, "review", plan_id, "--approve", "--as", "bob").returncode == 0
    code, outcome, _ = run_json(repo, plan_id, "--dry-run", "--yes")
    assert code == 0 and outcome["state"] == "succeeded"
    assert not (repo.runbooks_dir / "created-by-sh").exists()
    assert not (repo.runbooks_dir / "created-by-confirm").exists()
    executed = nbformat.read(repo.root / str(outcome["notebook"]), as_version=4)
    assert "would run" in executed.cells[0].outputs[0]["text"]
    runs = json.loads(runbook(repo, "runs", "--json").stdout)
    assert runs[0]["mode"] == "dry-run"


CANARY = "Zq8-canary-secret-value-Xk4"


def test_secrets_never_reach_disk(repo: Repository) -> None:
    write_runbook(
        repo.runbooks_dir / "leaky.ipynb",
        [
            ("code", "password = ''", ["parameters"]),
            (
                "code",
                "print('the password is', password)\nimport base64\n"
                "print(base64.b64encode(password.encode()).decode())",
                [],
            ),
            (
                "code",
                "from runbook.helpers import secret\nprint('token', secret('env:API_TOKEN'))",
                [],
            ),
            ("code", "raise RuntimeError('failed with ' + password)", []),
        ],
        parameters={"password": {"type": "str", "secret": True}},
    )
    plan_id = plan(repo, "leaky", "-p", "password", "env:DB_PASSWORD")
    code, outcome, err = run_json(
        repo, plan_id, "--yes", DB_PASSWORD=CANARY, API_TOKEN=CANARY[::-1]
    )
    assert code == 1 and outcome["state"] == "failed"
    assert CANARY not in err and CANARY[::-1] not in err
    executed = (repo.root / str(outcome["notebook"])).read_text()
    assert "the password is ***" in executed and "token ***" in executed
    for path in [*repo.runs_dir.rglob("*"), *repo.state_dir.rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            assert CANARY.encode() not in data, path
            assert CANARY[::-1].encode() not in data, path
    with sqlite3.connect(repo.state_dir / "runbook.db") as db:
        dump = "\n".join(db.iterdump())
    assert CANARY not in dump and CANARY[::-1] not in dump


def test_an_html_report_is_written_after_every_run(repo: Repository) -> None:
    write_runbook(
        repo.runbooks_dir / "html.ipynb",
        [
            (
                "code",
                "from IPython.display import HTML\n"
                "HTML('<b>bold</b><script>document.title=\"PWNED\"</script>')",
                [],
            ),
        ],
    )
    code, outcome, _ = run_json(repo, plan(repo, "html"), "--yes")
    assert code == 0
    assert outcome["reports"] == [f"runs/{outcome['run']}/report.html"]
    report = (repo.root / f"runs/{outcome['run']}/report.html").read_text()
    assert "<b>bold</b>" in report and "<script" not in report


def test_run_events_are_notified_to_the_configured_webhook(repo: Repository) -> None:
    import http.server
    import threading

    received: list[dict[str, object]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        config = repo.root / "runbook.toml"
        text = config.read_text()
        for default, value in (
            ("urls = []", f'urls = ["json://127.0.0.1:{server.server_port}/hook"]'),
            (
                'on = ["run.started", "cell.decided", "run.failed", "run.finished"]',
                'on = ["run.started", "cell.decided", "run.finished"]',
            ),
            ("allow_private = []", 'allow_private = ["127.0.0.1"]'),
        ):
            assert default in text
            text = text.replace(default, value)
        config.write_text(text)
        restart_runbook(repo.runbooks_dir / "restart.ipynb")
        code, outcome, _ = run_json(repo, plan(repo, "restart"), "--yes", "--as", "erin")
        assert code == 0 and outcome["warnings"] == []
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    messages = [str(m["message"]) for m in received]
    assert messages[0].startswith("erin started run")
    assert any("erin answered yes at cell" in m for m in messages)
    assert "succeeded" in messages[-1]


def test_a_plan_already_running_is_refused(repo: Repository) -> None:
    from datetime import UTC, datetime

    from runbook.config import database_url
    from runbook.model.run import Run, RunMode, RunState
    from runbook.orchestrate.leases import lease_owner
    from runbook.store.db import make_engine, session_scope
    from runbook.store.runs import create_run

    restart_runbook(repo.runbooks_dir / "restart.ipynb")
    plan_id = plan(repo, "restart")
    now = datetime.now(UTC)
    engine = make_engine(database_url(repo.root))
    with session_scope(engine) as session:  # held by this (live) test process
        create_run(
            session,
            Run(
                id="held",
                plan_id=plan_id,
                executor="frank",
                mode=RunMode.AUTOMATIC,
                state=RunState.RUNNING,
                started_at=now,
                notebook_path="runs/held/x.ipynb",
                lease_owner=lease_owner(),
                heartbeat_at=now,
            ),
        )
    engine.dispose()
    refused = runbook(repo, "run", plan_id, "--yes")
    assert refused.returncode == 4
    assert f"plan {plan_id} is already running (run held by frank" in refused.stderr
    assert not (repo.runbooks_dir / "restarted").exists()


def test_a_yes_run_records_the_abort_after_a_failure_as_automatic_not_as_the_user(
    repo: Repository,
) -> None:
    """--yes answers the gates; nobody chose to abort when a cell failed: a rule did."""
    from runbook.config import database_url
    from runbook.model.audit import run_subject
    from runbook.store.audit import list_events
    from runbook.store.db import make_engine, session_scope

    write_runbook(
        repo.runbooks_dir / "boom.ipynb",
        [("code", "print('step')", ["confirm"]), ("code", "raise RuntimeError('boom')", [])],
    )
    code, outcome, _ = run_json(repo, plan(repo, "boom"), "--yes", "--as", "carol")
    assert code == 1 and outcome["state"] == "failed"
    run_id = str(outcome["run"])
    lines = (repo.runs_dir / run_id / "log.jsonl").read_text().splitlines()
    decided = [
        (r["cell"], r["decision"], r["by"])
        for r in map(json.loads, lines)
        if r["kind"] == "cell.decided"
    ]
    assert decided == [(0, "yes", "carol"), (1, "abort", "(automatic)")]
    engine = make_engine(database_url(repo.root))
    with session_scope(engine) as session:
        audited = [
            (e.payload["decision"], e.actor)
            for e in list_events(session, subject=run_subject(run_id))
            if e.kind == "cell.decided"
        ]
    engine.dispose()
    assert audited == [("yes", "carol"), ("abort", "(automatic)")]
    human = runbook(repo, "log", run_id).stdout
    assert "cell 1: abort by (automatic)" in human and "abort by carol" not in human


def test_the_report_of_a_reviewed_run_shows_planner_hash_reviewer_and_gate(
    repo: Repository,
) -> None:
    write_runbook(
        repo.runbooks_dir / "failover.ipynb",
        [
            ("code", "host = 'localhost'", ["parameters"]),
            ("code", "print('failed over', host)", ["confirm"]),
        ],
        parameters={"host": {"type": "str", "default": "localhost"}},
        tags=["critical"],
    )
    plan_id = plan(repo, "failover", "-p", "host", "db1")
    comment = "<script>alert('x')</script> lag checked"
    reviewed = runbook(repo, "review", plan_id, "--approve", "--as", "bob", "-m", comment)
    assert reviewed.returncode == 0, reviewed.stderr
    code, outcome, _ = run_json(repo, plan_id, "--yes", "--as", "carol")
    assert code == 0 and outcome["reports"] == [f"runs/{outcome['run']}/report.html"]
    report = (repo.root / f"runs/{outcome['run']}/report.html").read_text()
    sha = json.loads(runbook(repo, "show-plan", plan_id, "--json").stdout)["sha256"]
    section = report[report.index("<h3>Plan and approval</h3>") : report.index("<h3>Cells</h3>")]
    assert "<th>Planned by</th><td>alice</td>" in section
    assert f"<th>Plan sha256</th><td>{sha}</td>" in section
    assert "<td>host</td><td>&quot;db1&quot;</td>" in section
    assert "<td>bob</td><td>approved</td>" in section and "<td>claimed</td><td>unsigned" in section
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; lag checked" in section
    assert "<th>Executor</th><td>carol</td>" in section
    # Cell 2: the plan put its injected-parameters cell after the parameters cell.
    gate = r"<tr><td>2</td><td>[^<]+</td><td>at the gate</td><td>confirmed</td><td>carol</td>"
    assert re.search(gate, section), section
    assert "<script" not in report
