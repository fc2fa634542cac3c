from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from runbook.model.repository import Repository
from tests.conftest import Result
from tests.model.workflows.test_workflow import AUTOFLOW_EXAMPLE

Cli = Callable[..., Result]

BROKEN = AUTOFLOW_EXAMPLE.replace(
    "flows_notebook: run_flows", "flows_notebook: run_flows\n          x: foo"
).replace('schedule: "0 0 * * *"', 'schedule: "every day"')


def notebooks(folder: Path, *names: str) -> None:
    """Empty notebooks for the files a workflows file names: AutoFlow wants them to exist."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names or ("run_flows.ipynb", "flows_report.ipynb"):
        nbformat.write(nbformat.v4.new_notebook(), folder / name)


def test_validate_a_valid_file(run_cli: Cli, repo: Repository) -> None:
    (repo.root / "workflows.yml").write_text(AUTOFLOW_EXAMPLE)
    notebooks(repo.root)
    result = run_cli("workflow", "validate", "workflows.yml")
    assert result.code == 0, result.err
    assert result.out == "workflows.yml: 1 workflow, valid\n"


def test_validate_lists_every_error_and_exits_1(run_cli: Cli, repo: Repository) -> None:
    (repo.root / "broken.yml").write_text(BROKEN)
    notebooks(repo.root)
    result = run_cli("workflow", "validate", "broken.yml")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines == [
        "broken.yml: available_dates_sensor.schedule: not a cron expression: expected 5 fields, "
        "got 2 (or null to run once)",
        "broken.yml: available_dates_sensor.workflows[0].parameters: missing 'foo', needed by "
        "workflow 'flows'",
    ]


def test_validate_json(run_cli: Cli, repo: Repository) -> None:
    (repo.root / "broken.yml").write_text(BROKEN)
    notebooks(repo.root)
    result = run_cli("workflow", "validate", "broken.yml", "--json")
    assert result.code == 1
    report = json.loads(result.out)
    assert report["ok"] is False
    assert [e["where"] for e in report["errors"]] == [
        "available_dates_sensor.schedule",
        "available_dates_sensor.workflows[0].parameters",
    ]
    (repo.root / "good.yml").write_text(AUTOFLOW_EXAMPLE)
    good = run_cli("workflow", "validate", "good.yml", "--json")
    assert good.code == 0 and json.loads(good.out) == {"ok": True, "workflows": 1, "errors": []}


def test_invalid_yaml_is_one_line_with_its_position(run_cli: Cli, repo: Repository) -> None:
    (repo.root / "bad.yml").write_text("workflows:\n  - name: [unclosed\n")
    result = run_cli("workflow", "validate", "bad.yml")
    assert result.code == 1
    assert len(result.out.splitlines()) == 1
    assert result.out.startswith("bad.yml:3:1: invalid YAML")


def test_missing_file_is_a_usage_error(run_cli: Cli, repo: Repository) -> None:
    result = run_cli("workflow", "validate", "nope.yml")
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1 and "nope.yml" in result.err


def test_list_workflows_of_the_repository(run_cli: Cli, repo: Repository) -> None:
    (repo.root / "workflows").mkdir(exist_ok=True)
    (repo.root / "workflows" / "flows.yml").write_text(AUTOFLOW_EXAMPLE)
    notebooks(repo.root / "workflows", "run_flows.ipynb", "flows_report.ipynb", "only.ipynb")
    (repo.root / "workflows" / "nightly.yml").write_text(
        "workflows:\n"
        "  - name: nightly\n"
        "    triggers: [{schedule: '0 3 * * *', timezone: Europe/Paris}, manual]\n"
        "    notebooks:\n"
        "      only: {filename: only.ipynb}\n"
    )
    result = run_cli("workflow", "list", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)["workflows"]
    assert [(r["name"], r["file"]) for r in rows] == [
        ("flows", "workflows/flows.yml"),
        ("nightly", "workflows/nightly.yml"),
    ]
    assert rows[0]["order"] == [["run_flows"], ["flows_report"]]
    assert rows[1]["triggers"] == ["schedule 0 3 * * * (Europe/Paris)", "manual"]
    table = run_cli("workflow", "list")
    assert table.code == 0
    assert "flows  [workflows/flows.yml]  tasks: run_flows -> flows_report" in table.out


def test_list_fails_on_an_invalid_file(run_cli: Cli, repo: Repository) -> None:
    (repo.root / "workflows.yml").write_text(BROKEN)
    notebooks(repo.root)
    result = run_cli("workflow", "list")
    assert result.code == 1
    assert "workflows.yml: available_dates_sensor.schedule" in result.err


TWO_STEP = """
workflows:
  - name: pair
    parameters: {greeting: hello}
    notebooks:
      first:
        filename: first.ipynb
        parameters: {greeting: greeting, day: reference_date, ranges: date_ranges}
      second:
        filename: second.ipynb
        parameters: {upstream: first}
"""


def two_step_inputs(repo: Repository, second_body: str) -> None:
    from tests.orchestrate.workflows.test_dag import notebook

    folder = repo.root / "workflows"
    (folder / "pair.yml").write_text(TWO_STEP)
    notebook(
        folder / "first.ipynb",
        "greeting = ''\nday = ''\nranges = []",
        "from runbook.helpers import glue\nglue('said', f'{greeting} {day} {ranges}')",
    )
    notebook(folder / "second.ipynb", "upstream = ''", second_body)


@pytest.mark.kernel
def test_run_runs_show_and_resume_from_the_command_line(run_cli: Cli, repo: Repository) -> None:
    two_step_inputs(repo, "raise SystemExit('not yet')")
    failed = run_cli("workflow", "run", "pair", "-p", "greeting", "hi", "--date", "2016-01-07")
    assert failed.code == 1, failed.err
    assert "second: failed" in failed.err  # progress lines when stderr is not a terminal
    run_id = failed.err.split("workflow run ")[1].split(":")[0]

    listed = json.loads(run_cli("workflow", "runs", "pair", "--json").out)
    assert [(r["id"], r["state"], r["reference_date"]) for r in listed] == [
        (run_id, "failed", "2016-01-07")
    ]
    shown = json.loads(run_cli("workflow", "show", run_id, "--json").out)
    assert shown["parameters"] == {"greeting": "hi"}
    assert shown["date_ranges"] == [["2016-01-07", "2016-01-07"]]
    assert [(t["key"], t["state"]) for t in shown["tasks"]] == [
        ("first", "succeeded"),
        ("second", "failed"),
    ]

    two_step_inputs(
        repo,
        "from runbook.helpers import read_scraps\nprint(read_scraps(upstream)['said'])",
    )
    resumed = run_cli("workflow", "resume", run_id, "--json")
    assert resumed.code == 0, resumed.err
    report = json.loads(resumed.out)
    assert report["resumed_from"] == run_id
    assert [(t["key"], t["state"]) for t in report["tasks"]] == [
        ("first", "reused"),
        ("second", "succeeded"),
    ]
    executed = repo.root / report["tasks"][1]["notebook"]
    assert "hi 2016-01-07 [['2016-01-07', '2016-01-07']]" in executed.read_text()


def test_bad_requests_are_one_line_usage_errors(run_cli: Cli, repo: Repository) -> None:
    (repo.root / "workflows" / "pair.yml").write_text(TWO_STEP)
    notebooks(repo.root / "workflows", "first.ipynb", "second.ipynb")
    unknown = run_cli("workflow", "run", "nope")
    assert unknown.code == 2
    assert unknown.err == "runbook: error: nope: no such workflow (known: pair)\n"
    bad_parameter = run_cli("workflow", "run", "pair", "-p", "colour", "red")
    assert bad_parameter.code == 2
    assert "colour" in bad_parameter.err and "not a parameter of workflow pair" in bad_parameter.err
    bad_date = run_cli("workflow", "run", "pair", "--date", "2016-13-01")
    assert bad_date.code == 2
    no_run = run_cli("workflow", "show", "wf-nope")
    assert no_run.code == 2
    assert "no such workflow run" in no_run.err
    assert run_cli("workflow", "runs").out.startswith("no workflow runs yet")


@pytest.mark.kernel
def test_a_killed_workflow_is_interrupted_and_can_be_resumed(repo: Repository) -> None:
    import os
    import signal
    import subprocess

    from tests.cli.process import RUNBOOK, runbook
    from tests.orchestrate.workflows.test_dag import notebook

    folder = repo.root / "workflows"
    (folder / "slow.yml").write_text(
        "workflows:\n  - name: slow\n    notebooks:\n      wait: {filename: wait.ipynb}\n"
    )
    notebook(
        folder / "wait.ipynb", "", "import time\nprint('started', flush=True)\ntime.sleep(120)"
    )
    process = subprocess.Popen(
        [RUNBOOK, "workflow", "run", "slow"],
        cwd=repo.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "wait: running" in line:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    process.stderr.close()

    (listed,) = json.loads(runbook(repo, "workflow", "runs", "--json").stdout)
    assert listed["state"] == "interrupted"
    shown = json.loads(runbook(repo, "workflow", "show", listed["id"], "--json").stdout)
    assert [t["state"] for t in shown["tasks"]] == ["interrupted"]
    trail = json.loads(runbook(repo, "audit", "log", "--json").stdout)
    swept = [e for e in trail if e["subject"] == f"workflow:{listed['id']}"]
    assert [(e["kind"], e["payload"].get("state")) for e in swept] == [
        ("workflow.started", None),
        ("workflow.finished", "interrupted"),
    ]

    notebook(folder / "wait.ipynb", "", "print('quick this time')")
    resumed = runbook(repo, "workflow", "resume", listed["id"], "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["tasks"][0]["state"] == "succeeded"


@pytest.mark.kernel
def test_a_task_whose_run_succeeded_before_the_kill_is_not_run_again(repo: Repository) -> None:
    """kill -9 after a task's run record says succeeded, before the workflow records it."""
    import http.server
    import os
    import queue
    import signal
    import subprocess
    import threading

    from tests.cli.process import RUNBOOK, runbook
    from tests.orchestrate.workflows.test_dag import notebook

    ran = repo.root / "first-ran.txt"
    two_step_inputs(repo, "print(upstream)")
    notebook(
        repo.root / "workflows" / "first.ipynb",
        "greeting = ''\nday = ''\nranges = []",
        f"with open({str(ran)!r}, 'a') as f:\n    f.write('ran\\n')",
    )
    # The run's end notification is the event: the run's record is final when it is sent,
    # and the workflow's process waits for it (the hook never answers) before it goes on.
    arrived: queue.Queue[bytes] = queue.Queue()
    release = threading.Event()

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrived.put(self.rfile.read(int(self.headers["Content-Length"])))
            release.wait(120)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    config = repo.root / "runbook.toml"
    plain = config.read_text()
    config.write_text(
        plain.replace("urls = []", f'urls = ["json://127.0.0.1:{server.server_port}/hook"]')
        .replace(
            'on = ["run.started", "cell.decided", "run.failed", "run.finished"]',
            'on = ["run.finished"]',
        )
        .replace("allow_private = []", 'allow_private = ["127.0.0.1"]')
    )
    process = subprocess.Popen(
        [RUNBOOK, "workflow", "run", "pair"],
        cwd=repo.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert b"succeeded" in arrived.get(timeout=120)
        (first_run,) = json.loads(runbook(repo, "runs", "--json").stdout)
        assert first_run["state"] == "succeeded"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        release.set()
        server.shutdown()
        server.server_close()
    config.write_text(plain)

    (listed,) = json.loads(runbook(repo, "workflow", "runs", "--json").stdout)
    assert listed["state"] == "interrupted"
    shown = json.loads(runbook(repo, "workflow", "show", listed["id"], "--json").stdout)
    first, second = shown["tasks"]
    assert (first["state"], first["run"]) == ("succeeded", first_run["id"])
    assert second["state"] == "pending"
    resumed = runbook(repo, "workflow", "resume", listed["id"], "--json")
    assert resumed.returncode == 0, resumed.stderr
    tasks = json.loads(resumed.stdout)["tasks"]
    assert [(t["key"], t["state"]) for t in tasks] == [("first", "reused"), ("second", "succeeded")]
    assert ran.read_text() == "ran\n"  # once: resume did not run it again


GOOD = """
workflows:
  - name: good
    notebooks:
      only: {filename: only.ipynb}
"""

BAD = """
workflows:
  - name: bad
    notebooks:
      only: {filename: only.ipynb, parameters: {x: nope}}
"""


def invalid_neighbours(repo: Repository) -> None:
    """workflows/good.yml next to an invalid file, an unparsable one and a non-UTF-8 one."""
    from tests.orchestrate.workflows.test_dag import notebook

    folder = repo.root / "workflows"
    (folder / "good.yml").write_text(GOOD)
    (folder / "bad.yml").write_text(BAD)
    (folder / "broken.yml").write_text("workflows: [unclosed\n")
    (folder / "latin.yml").write_bytes(b"workflows: caf\xe9\n")
    notebook(folder / "only.ipynb", "", "print('ran')")


BAD_LINES = [
    "runbook: error: workflows/bad.yml: workflows[0].notebooks.only.parameters.x: "
    "unknown reference 'nope'",
    "runbook: error: workflows/broken.yml:2:1: invalid YAML: expected ',' or ']', "
    "but got '<stream end>'",
    "runbook: error: workflows/latin.yml: cannot read: not UTF-8 text (invalid byte at offset 14)",
]


def test_list_names_each_invalid_file_and_lists_the_others(run_cli: Cli, repo: Repository) -> None:
    invalid_neighbours(repo)
    listed = run_cli("workflow", "list")
    assert listed.code == 1
    assert listed.err.splitlines() == BAD_LINES
    assert listed.out.startswith("good  [workflows/good.yml]  tasks: only")
    as_json = json.loads(run_cli("workflow", "list", "--json").out)
    assert [w["name"] for w in as_json["workflows"]] == ["good"]
    assert [bad["file"] for bad in as_json["invalid"]] == [
        "workflows/bad.yml",
        "workflows/broken.yml",
        "workflows/latin.yml",
    ]


def test_run_refuses_a_workflow_of_an_invalid_file_by_naming_it(
    run_cli: Cli, repo: Repository
) -> None:
    invalid_neighbours(repo)
    bad = run_cli("workflow", "run", "bad")
    assert bad.code == 1
    assert bad.err == (
        "runbook: error: workflows/bad.yml: workflows[0].notebooks.only.parameters.x: "
        "unknown reference 'nope' (invalid file: workflow bad cannot run)\n"
    )
    unknown = run_cli("workflow", "run", "nope")
    assert unknown.code == 2
    assert unknown.err == (
        "runbook: error: nope: no such workflow (known: good; invalid, not read: "
        "workflows/bad.yml, workflows/broken.yml, workflows/latin.yml)\n"
    )


@pytest.mark.kernel
def test_run_of_a_good_workflow_is_not_stopped_by_an_invalid_neighbour(
    run_cli: Cli, repo: Repository
) -> None:
    invalid_neighbours(repo)
    ran = run_cli("workflow", "run", "good", "--json")
    assert ran.code == 0, ran.err
    assert [(t["key"], t["state"]) for t in json.loads(ran.out)["tasks"]] == [("only", "succeeded")]


def test_scheduler_once_names_each_invalid_file_at_error(
    run_cli: Cli, repo: Repository, caplog: pytest.LogCaptureFixture
) -> None:
    invalid_neighbours(repo)
    with caplog.at_level("INFO", logger="runbook.scheduler"):
        result = run_cli("scheduler", "--once", "--json")
    assert result.code == 0, result.err
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [
        line.removeprefix("runbook: error: ") + " (invalid file: none of its workflows fire)"
        for line in BAD_LINES
    ]
