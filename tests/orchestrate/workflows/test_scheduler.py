"""The scheduler with real kernels and a local FlowAPI: sensors, schedules, restarts, races."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from runbook.config import database_url
from runbook.model.repository import Repository, find_repository
from runbook.model.workflows.workflow_run import TriggerKind, WorkflowState
from runbook.orchestrate.workflows.scheduler import Scheduler, SchedulerOptions
from runbook.orchestrate.workflows.workflow_files import settings_for
from runbook.store.db import ensure_schema, make_engine
from runbook.store.workflows.workflow_runs import list_tasks, list_workflow_runs
from tests.localhttp import JsonHandler, serving
from tests.model.workflows.test_workflow import AUTOFLOW_EXAMPLE
from tests.orchestrate.workflows.test_dag import notebook
from tests.store.conftest import POSTGRES_ADMIN_URL, POSTGRES_URL_PREFIX

pytestmark = pytest.mark.kernel

TOKEN = "flowapi-test-token"


class _FlowAPI(JsonHandler):
    available: ClassVar[dict[str, list[str]]] = {}
    polls: ClassVar[list[str]] = []

    def answer(self, path: str) -> tuple[int, Any]:
        if path == "/api/0/available_dates":
            if self.bearer() != TOKEN:
                return 401, {"msg": "unauthorised"}
            type(self).polls.append(path)
            return 200, {"available_dates": type(self).available}
        if path == "/dates":
            return 200, type(self).available.get("calls", [])
        return super().answer(path)


@pytest.fixture
def flowapi(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A FlowAPI on 127.0.0.1 whose available dates the test changes between polls."""
    _FlowAPI.available = {}
    _FlowAPI.polls = []
    monkeypatch.setenv("FLOWAPI_TOKEN", TOKEN)
    monkeypatch.setenv("RUNBOOK_EGRESS_ALLOW", "127.0.0.1")
    with serving(_FlowAPI) as url:
        monkeypatch.setenv("FLOWAPI_URL", url)
        yield url


@pytest.fixture
def sessions(repo: Repository) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url(repo.root))
    ensure_schema(engine)
    yield sessionmaker(engine)
    engine.dispose()


def scheduler(
    sessions: sessionmaker[Session], repo: Repository, **options: Any
) -> tuple[Scheduler, list[str]]:
    lines: list[str] = []
    made = Scheduler(
        sessions, repo, settings_for(repo), "test:1", lines.append, SchedulerOptions(**options)
    )
    return made, lines


def seed_inputs(repo: Repository) -> None:
    """The seed's example workflows.yml, with notebooks in AutoFlow's style (scrapbook)."""
    folder = repo.root / "workflows"
    (folder / "workflows.yml").write_text(AUTOFLOW_EXAMPLE)
    notebook(
        folder / "run_flows.ipynb",
        "reference_date = ''\ndate_ranges = []\nflowapi_url = ''",
        "import scrapbook as sb\n"
        "sb.glue('query_ids', [f'{start}:{end}' for start, end in date_ranges])\n"
        "sb.glue('api', flowapi_url)",
    )
    notebook(
        folder / "flows_report.ipynb",
        "flows_notebook = ''\nreference_date = ''\nflowapi_url = ''",
        "import scrapbook as sb\n"
        "scraps = sb.read_notebook(flows_notebook).scraps\n"
        "print('flows above normal for', reference_date, scraps['query_ids'].data)\n"
        "assert scraps['api'].data == flowapi_url",
    )


# Three workflow runs of two kernels and a Chromium print each: about 30 s on an idle machine
# and 100 s or more with both cores busy, so the suite's 300 s hang guard is too close.
@pytest.mark.timeout(900)
@pytest.mark.slow
def test_the_seed_sensor_runs_exactly_the_expected_dates_as_data_arrives(
    repo: Repository, sessions: sessionmaker[Session], flowapi: str
) -> None:
    seed_inputs(repo)
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    _FlowAPI.available = {
        "calls": ["2016-01-01", "2016-01-02", "2016-01-03"],
        "sms": ["2016-01-01", "2016-01-02", "2016-01-03"],
        "mds": [],  # not selected by cdr_types: must not matter
    }
    first, lines = scheduler(sessions, repo)
    started = first.tick(t0)  # first sight: the sensor polls at once
    first.wait()
    assert sorted(cast(dt.date, r.reference_date) for r in started) == [
        dt.date(2016, 1, 2),
        dt.date(2016, 1, 3),
    ]
    assert any("new data for 2016-01-02" in line for line in lines)

    # Same day again: the schedule (daily at midnight) is not due, so no poll at all.
    _FlowAPI.available["calls"].append("2016-01-04")
    assert first.tick(t0 + timedelta(hours=1)) == []
    assert len(_FlowAPI.polls) == 1

    # After midnight: polled; 2016-01-04 has calls but no sms yet, so nothing is due.
    assert first.tick(t0 + timedelta(days=1)) == []
    assert len(_FlowAPI.polls) == 2

    # A restarted scheduler, next midnight: sms for the 4th arrived, and the 6th (not the
    # 5th) for both: only the 4th is due (the 6th's stencil needs the 5th).
    _FlowAPI.available["sms"] += ["2016-01-04", "2016-01-06"]
    _FlowAPI.available["calls"] += ["2016-01-06"]
    restarted, _ = scheduler(sessions, repo)
    later = restarted.tick(t0 + timedelta(days=2))
    restarted.wait()
    assert [r.reference_date for r in later] == [dt.date(2016, 1, 4)]

    with sessions.begin() as session:
        runs = list_workflow_runs(session)
        tasks = {run.id: list_tasks(session, run.id) for run in runs}
    assert sorted((r.workflow, r.reference_date) for r in runs) == [
        ("flows", dt.date(2016, 1, 2)),
        ("flows", dt.date(2016, 1, 3)),
        ("flows", dt.date(2016, 1, 4)),
    ]
    assert {r.state for r in runs} == {WorkflowState.SUCCEEDED}, [r.message for r in runs]
    assert {r.trigger for r in runs} == {TriggerKind.SENSOR}
    fourth = next(r for r in runs if r.reference_date == dt.date(2016, 1, 4))
    assert fourth.date_ranges == [
        ["2016-01-01", "2016-01-02"],
        ["2016-01-03", "2016-01-03"],
        ["2016-01-04", "2016-01-04"],
    ]
    # Each run's report task produced a PDF under runs/<workflow run>/reports/.
    for run in runs:
        (report,) = next(t for t in tasks[run.id] if t.key == "flows_report").reports
        assert report == f"runs/{run.id}/reports/flows_report.pdf"
        assert (repo.root / report).read_bytes().startswith(b"%PDF")


HOURLY = """
workflows:
  - name: hourly
    triggers:
      - {schedule: "0 * * * *", timezone: UTC}
    notebooks:
      only: {filename: only.ipynb}
"""


def hourly_inputs(repo: Repository) -> None:
    (repo.root / "workflows" / "hourly.yml").write_text(HOURLY)
    notebook(repo.root / "workflows" / "only.ipynb", "", "print('tick')")


def fired(sessions: sessionmaker[Session]) -> list[str]:
    with sessions.begin() as session:
        runs = list_workflow_runs(session, workflow="hourly")
    return sorted((r.natural_key or "").split("|")[-1] for r in runs)


def test_a_restarted_scheduler_neither_duplicates_nor_drops_a_fire_time(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    hourly_inputs(repo)
    at = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
    first, first_lines = scheduler(sessions, repo)
    assert first.tick(at) == []  # first sight: counts from now, fires nothing for the past
    assert first_lines == ["hourly: schedule 0 * * * * (UTC), next 2026-11-23 11:00:00+00:00"]
    assert len(first.tick(at.replace(hour=11, minute=0, second=30))) == 1
    first.wait()

    # Restarted 10 s later: 11:00 was fired already.
    again, _ = scheduler(sessions, repo)
    assert again.tick(at.replace(hour=11, minute=0, second=40)) == []
    # Down from 11:01 to 14:10: 12:00, 13:00 and 14:00 were missed; one catch-up run.
    caught_up, lines = scheduler(sessions, repo)
    (catch_up,) = caught_up.tick(at.replace(hour=14, minute=10))
    caught_up.wait()
    assert any("2 missed fire time(s) (run_once)" in line for line in lines)
    assert catch_up.natural_key is not None and catch_up.natural_key.endswith("14:00:00+00:00")

    # With skip, a late fire time is not run, but the schedule goes on afterwards.
    skipping, lines = scheduler(sessions, repo, catch_up="skip")
    assert skipping.tick(at.replace(hour=17, minute=30)) == []
    assert any("3 missed fire time(s) (skip)" in line for line in lines)
    assert len(skipping.tick(at.replace(hour=18, minute=0, second=30))) == 1
    skipping.wait()
    assert fired(sessions) == [
        "2026-11-23T11:00:00+00:00",
        "2026-11-23T14:00:00+00:00",
        "2026-11-23T18:00:00+00:00",
    ]


def test_an_invalid_file_is_named_at_error_once_and_the_others_still_fire(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    hourly_inputs(repo)
    bad = repo.root / "workflows" / "bad.yml"
    bad.write_text(HOURLY.replace("hourly", "other").replace("only.ipynb", "../../x.ipynb"))
    (repo.root / "workflows" / "latin.yml").write_bytes(b"workflows: caf\xe9\n")
    lines: list[str] = []
    errors: list[str] = []
    ticker = Scheduler(
        sessions, repo, settings_for(repo), "test:1", lines.append, log_error=errors.append
    )
    at = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
    assert ticker.tick(at) == []
    assert errors == [
        "workflows/bad.yml: workflows[0].notebooks.only.filename: '../../x.ipynb' contains "
        "'..': paths must stay inside the inputs folder (invalid file: none of its workflows "
        "fire)",
        "workflows/latin.yml: cannot read: not UTF-8 text (invalid byte at offset 14) "
        "(invalid file: none of its workflows fire)",
    ]
    assert lines == ["hourly: schedule 0 * * * * (UTC), next 2026-11-23 11:00:00+00:00"]
    assert len(ticker.tick(at.replace(hour=11, minute=0, second=30))) == 1
    ticker.wait()
    assert len(errors) == 2  # named once, not on every tick
    assert fired(sessions) == ["2026-11-23T11:00:00+00:00"]
    bad.write_text(HOURLY.replace("hourly", "other"))
    ticker.tick(at.replace(hour=11, minute=5))
    assert "workflows/bad.yml: valid again" in lines
    ticker.close()


@pytest.fixture
def postgres_sessions() -> Iterator[list[sessionmaker[Session]]]:
    """Two independent engines (two scheduler processes) on one fresh PostgreSQL store."""
    name = f"runbook_sched_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engines = [make_engine(POSTGRES_URL_PREFIX + name) for _ in range(2)]
    try:
        ensure_schema(engines[0])
        yield [sessionmaker(engine) for engine in engines]
    finally:
        for engine in engines:
            engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.mark.postgres
def test_two_schedulers_on_postgresql_never_both_fire_a_schedule(
    repo: Repository, postgres_sessions: list[sessionmaker[Session]]
) -> None:
    hourly_inputs(repo)
    pair = [scheduler(s, repo)[0] for s in postgres_sessions]
    start = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
    for one in pair:
        one.tick(start)
    for hour in (11, 12, 13):
        now = start.replace(hour=hour, minute=0, second=30)
        barrier = threading.Barrier(2)
        results: list[int] = []

        def tick(
            one: Scheduler,
            when: datetime = now,
            gate: threading.Barrier = barrier,
            out: list[int] = results,
        ) -> None:
            gate.wait()
            out.append(len(one.tick(when)))

        threads = [threading.Thread(target=tick, args=(one,)) for one in pair]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [0, 1]
    for one in pair:
        one.close()
    assert fired(postgres_sessions[0]) == [
        "2026-11-23T11:00:00+00:00",
        "2026-11-23T12:00:00+00:00",
        "2026-11-23T13:00:00+00:00",
    ]


def test_scheduler_once_from_the_command_line_across_restarts(
    repo: Repository, flowapi: str, tmp_path: Path
) -> None:
    import subprocess

    from tests.cli.process import RUNBOOK

    (repo.root / "workflows" / "daily.yml").write_text(
        "workflows:\n"
        "  - name: daily\n"
        "    triggers:\n"
        f"      - {{sensor: http, config: {{url: '{flowapi}/dates', date_stencil: [-1, 0]}}}}\n"
        "    notebooks:\n"
        "      only: {filename: only.ipynb, parameters: {day: reference_date}}\n"
    )
    notebook(repo.root / "workflows" / "only.ipynb", "day = ''", "print('day', day)")
    _FlowAPI.available = {"calls": ["2016-01-01", "2016-01-02", "2016-01-03"]}

    def once() -> list[str]:
        done = subprocess.run(
            [RUNBOOK, "scheduler", "--once", "--json"],
            cwd=repo.root,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        started: list[str] = json.loads(done.stdout)["started"]
        return started

    assert len(once()) == 2  # the 2nd and 3rd (the 1st needs the 31st of December)
    assert once() == []  # restarted, nothing new: nothing again
    _FlowAPI.available["calls"].append("2016-01-04")
    assert len(once()) == 1
    listed = subprocess.run(
        [RUNBOOK, "workflow", "runs", "daily", "--json"],
        cwd=repo.root,
        capture_output=True,
        text=True,
        check=True,
    )
    runs = json.loads(listed.stdout)
    assert sorted(r["reference_date"] for r in runs) == ["2016-01-02", "2016-01-03", "2016-01-04"]
    assert {r["state"] for r in runs} == {"succeeded"}


def test_a_failing_sensor_firing_is_retried_up_to_sensor_attempts(
    repo: Repository, sessions: sessionmaker[Session], flowapi: str
) -> None:
    config = repo.root / "runbook.toml"
    config.write_text(config.read_text().replace("sensor_attempts = 3", "sensor_attempts = 2"))
    repo = find_repository(repo.root)  # settings are read once, with the repository
    (repo.root / "workflows" / "daily.yml").write_text(
        "workflows:\n"
        "  - name: daily\n"
        "    triggers:\n"
        f"      - {{sensor: http, config: {{url: '{flowapi}/dates'}}}}\n"
        "    notebooks:\n"
        "      only: {filename: only.ipynb}\n"
    )
    notebook(repo.root / "workflows" / "only.ipynb", "", "raise RuntimeError('no data yet')")
    _FlowAPI.available = {"calls": ["2016-01-01"]}
    one, lines = scheduler(sessions, repo)
    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    started = []
    for minute in range(4):
        started += one.tick(at + timedelta(minutes=minute))
        one.wait()
    assert len(started) == 2  # tried twice, then given up
    assert sum("given up after 2 failed runs" in line for line in lines) == 1
    with sessions.begin() as session:
        states = [r.state for r in list_workflow_runs(session, workflow="daily")]
    assert states == [WorkflowState.FAILED, WorkflowState.FAILED]


REGIONAL = """
workflows:
  - name: hourly
    parameters: {region: us}
    triggers:
      - {schedule: "0 * * * *", timezone: UTC}
    notebooks:
      only: {filename: only.ipynb, parameters: {region: region}}
"""


def test_a_scheduled_workflow_fires_only_under_a_standing_approval_of_its_file(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    from runbook.model.standing import parse_bound
    from runbook.orchestrate.standing_approvals import approve_standing
    from runbook.orchestrate.workflows.workflow_standing import approve_workflow_standing
    from runbook.store.plans import get_plan

    config = repo.root / "runbook.toml"
    config.write_text(config.read_text().replace('require = "tagged"', 'require = "all"'))
    repo = find_repository(repo.root)
    (repo.root / "workflows" / "hourly.yml").write_text(REGIONAL)
    task = repo.root / "workflows" / "only.ipynb"
    notebook(task, "region = ''", "print(region)")
    at = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)

    def fire(hour: int) -> tuple[list[Any], list[str]]:
        one, lines = scheduler(sessions, repo)
        one.tick(at.replace(hour=hour - 1))
        runs = one.tick(at.replace(hour=hour, minute=0, second=30))
        one.wait()
        return runs, lines

    def grant(region: str) -> str:
        with sessions() as session:
            return approve_workflow_standing(
                session,
                repo,
                "hourly",
                reviewer="bob",
                callers=["schedule:hourly"],
                bounds=dict([parse_bound(f"region={region}")]),
                lifetime=timedelta(days=30),
            ).id

    runs, lines = fire(11)
    assert runs == [] and fired(sessions) == []
    assert any(
        "schedule:hourly may not run it unattended: no standing approval of this workflow" in line
        for line in lines
    ), lines
    with sessions() as session:  # a task's approval for people's runs does not fire it
        approve_standing(
            session,
            repo,
            "workflows/only.ipynb",
            reviewer="bob",
            callers=["workflow:hourly"],
            bounds={"region": parse_bound("region=*")[1]},
            lifetime=timedelta(days=30),
        )
    assert fire(12)[0] == []
    grant("eu")
    runs, lines = fire(13)
    assert runs == [] and any("region = 'us' is not 'eu'" in line for line in lines), lines
    approval = grant("eu|us")
    (run,) = fire(14)[0]
    with sessions.begin() as session:
        (record,) = list_workflow_runs(session, workflow="hourly")
        (task_record,) = list_tasks(session, run.id)
        assert task_record.plan_id is not None
        task_plan = get_plan(session, task_record.plan_id)
    assert record.id == run.id and record.state is WorkflowState.SUCCEEDED
    assert task_plan.standing_approval == approval  # the task ran under the workflow's approval
    notebook(task, "region = ''", "print(region, 'changed')")  # the task's runbook changed
    runs, lines = fire(15)
    assert runs == [] and any(
        "workflows/only.ipynb changed since it was approved" in line for line in lines
    ), lines
