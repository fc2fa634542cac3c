"""The workflow DAG runner with real kernels: data between tasks, failures, retries, resume."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
import scrapbook
from sqlalchemy.orm import Session, sessionmaker

from runbook.config import database_url
from runbook.errors import ParameterError, RunRefusedError, UsageError
from runbook.model.audit import workflow_subject
from runbook.model.repository import Repository
from runbook.model.workflows.workflow import load_workflows
from runbook.model.workflows.workflow_run import TaskRecord, TaskState, TriggerKind, WorkflowState
from runbook.orchestrate.workflows.dag import (
    WorkflowRequest,
    bind_workflow_parameters,
    resume_workflow,
    start_workflow,
)
from runbook.orchestrate.workflows.workflow_files import settings_for
from runbook.store.audit import list_events
from runbook.store.db import ensure_schema, make_engine
from runbook.store.plans import get_plan
from runbook.store.runs import get_run
from runbook.store.workflows.workflow_runs import list_tasks, list_workflow_runs
from tests.builders import write_runbook

pytestmark = pytest.mark.kernel


@pytest.fixture
def sessions(repo: Repository) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url(repo.root))
    ensure_schema(engine)
    yield sessionmaker(engine)
    engine.dispose()


def notebook(path: Path, parameters: str, body: str) -> None:
    """A plain papermill notebook, as AutoFlow users write them (no runbook metadata)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


GLUE_WORKFLOW = """
workflows:
  - name: flows
    parameters: [region]
    notebooks:
      produce:
        filename: produce.ipynb
        parameters: {reference_date: reference_date, date_ranges: date_ranges, region: region}
      consume:
        filename: consume.ipynb
        parameters: {upstream: produce, region: region}
        output: {format: html, template: banner.html.j2}
"""


def glue_inputs(repo: Repository) -> None:
    folder = repo.root / "workflows"
    (folder / "flows.yml").write_text(GLUE_WORKFLOW)
    notebook(
        folder / "produce.ipynb",
        "reference_date = None\ndate_ranges = None\nregion = 'north'",
        "import scrapbook as sb\n"
        "sb.glue('total', len(date_ranges) * 10 + len(region))\n"
        "sb.glue('day', reference_date)",
    )
    notebook(
        folder / "consume.ipynb",
        "upstream = ''\nregion = ''",
        "from runbook.helpers import read_scraps\n"
        "scraps = read_scraps(upstream)\n"
        "print('consumed', scraps['total'], scraps['day'], region)\n"
        "from runbook.helpers import glue\nglue('seen', scraps['total'])",
    )
    (folder / "banner.html.j2").write_text(
        "{%- extends 'lab/index.html.j2' -%}\n"
        "{% block body_header %}<h1 class='flows-banner'>Flows</h1>{{ super() }}"
        "{% endblock body_header %}\n"
    )


def request(repo: Repository, text: str, name: str, **kwargs: object) -> WorkflowRequest:
    spec = load_workflows(text).workflows[name]
    return WorkflowRequest(spec=spec, source="workflows/flows.yml", started_by="ci", **kwargs)  # type: ignore[arg-type]


def test_the_second_notebook_reads_what_the_first_glued(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    glue_inputs(repo)
    seen: list[TaskRecord] = []
    lock = threading.Lock()

    def listen(record: TaskRecord) -> None:
        with lock:
            seen.append(record)

    run = start_workflow(
        sessions,
        repo,
        settings_for(repo),
        request(
            repo,
            GLUE_WORKFLOW,
            "flows",
            parameters={"region": "south"},
            reference_date=dt.date(2016, 1, 7),
            date_ranges=[["2016-01-01", "2016-01-02"], ["2016-01-06", "2016-01-07"]],
            listener=listen,
        ),
    )
    assert run is not None
    assert run.state is WorkflowState.SUCCEEDED, run.message
    with sessions.begin() as session:
        tasks = {t.key: t for t in list_tasks(session, run.id)}
        consume_run = get_run(session, tasks["consume"].run_id or "")
        consume_plan_sha = get_plan(session, consume_run.plan_id).sha256
        events = list_events(session, subject=workflow_subject(run.id))
    assert [t.state for t in tasks.values()] == [TaskState.SUCCEEDED, TaskState.SUCCEEDED]
    # The downstream task got the executed upstream notebook's path, and read its scraps.
    executed = repo.root / consume_run.notebook_path
    scraps = scrapbook.read_notebook(str(executed)).scraps
    assert scraps["seen"].data == 2 * 10 + len("south")
    outputs = "".join(
        out.get("text", "")
        for cell in nbformat.read(executed, 4).cells
        for out in cell.get("outputs", [])
    )
    assert "consumed 25 2016-01-07 south" in outputs
    # The report used the task's own template, and went to runs/<workflow run>/reports/.
    report = repo.root / tasks["consume"].reports[0]
    assert report == repo.root / "runs" / run.id / "reports" / "consume.html"
    assert "flows-banner" in report.read_text()
    # With the plan the workflow made for the task: who planned it, and its hash.
    assert "<th>Planned by</th><td>ci</td>" in report.read_text()
    assert f"<th>Plan sha256</th><td>{consume_plan_sha}</td>" in report.read_text()
    assert [e.kind for e in events] == ["workflow.started", "workflow.finished"]
    assert {(r.key, r.state) for r in seen} >= {
        ("produce", TaskState.RUNNING),
        ("produce", TaskState.SUCCEEDED),
        ("consume", TaskState.SUCCEEDED),
    }


FAILING_WORKFLOW = """
workflows:
  - name: fragile
    parameters: {attempts_needed: 1}
    notebooks:
      flaky:
        filename: flaky.ipynb
        parameters: {attempts_needed: attempts_needed}
        retries: 2
        retry_delay: 0
      broken:
        filename: broken.ipynb
      after_broken:
        filename: after.ipynb
        parameters: {upstream: broken}
      last:
        filename: after.ipynb
        parameters: {upstream: after_broken}
      independent:
        filename: after.ipynb
        parameters: {upstream: flaky}
"""


def failing_inputs(repo: Repository, broken_body: str = "raise RuntimeError('boom')") -> None:
    folder = repo.root / "workflows"
    (folder / "flows.yml").write_text(FAILING_WORKFLOW)
    # Fails until it has been attempted `attempts_needed` times (counted in a file).
    notebook(
        folder / "flaky.ipynb",
        "attempts_needed = 1",
        "from pathlib import Path\n"
        "counter = Path('flaky.count')\n"
        "count = int(counter.read_text()) + 1 if counter.exists() else 1\n"
        "counter.write_text(str(count))\n"
        "assert count >= attempts_needed, f'attempt {count}'",
    )
    notebook(folder / "broken.ipynb", "", broken_body)
    notebook(folder / "after.ipynb", "upstream = ''", "print('after', upstream)")


def test_retries_upstream_failed_and_resume_reusing_what_succeeded(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    failing_inputs(repo)
    settings = settings_for(repo)
    run = start_workflow(
        sessions,
        repo,
        settings,
        request(repo, FAILING_WORKFLOW, "fragile", parameters={"attempts_needed": 3}),
    )
    assert run is not None and run.state is WorkflowState.FAILED
    assert "broken failed" in (run.message or "")
    with sessions.begin() as session:
        first = {t.key: t for t in list_tasks(session, run.id)}
    assert first["flaky"].state is TaskState.SUCCEEDED
    assert first["flaky"].attempts == 3  # failed twice, retried twice
    assert first["broken"].state is TaskState.FAILED
    assert "boom" in (first["broken"].message or "")
    assert first["after_broken"].state is TaskState.UPSTREAM_FAILED
    assert first["last"].state is TaskState.UPSTREAM_FAILED
    assert first["independent"].state is TaskState.SUCCEEDED

    # Fix the broken notebook, then resume: only broken and what is downstream of it run.
    failing_inputs(repo, broken_body="print('fixed')")
    resumed = resume_workflow(sessions, repo, settings, run.id, "ci")
    assert resumed.state is WorkflowState.SUCCEEDED, resumed.message
    assert resumed.resumed_from == run.id
    with sessions.begin() as session:
        second = {t.key: t for t in list_tasks(session, resumed.id)}
    assert second["flaky"].state is TaskState.REUSED
    assert second["flaky"].run_id == first["flaky"].run_id
    assert second["independent"].state is TaskState.REUSED
    assert {second[k].state for k in ("broken", "after_broken", "last")} == {TaskState.SUCCEEDED}
    assert (repo.root / "workflows" / "flaky.count").read_text() == "3"  # not run again
    with pytest.raises(UsageError, match="nothing to resume"):
        resume_workflow(sessions, repo, settings, resumed.id, "ci")


def test_a_confirm_cell_stops_an_unattended_task_and_a_review_policy_refuses_it(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    text = """
workflows:
  - name: gated
    notebooks:
      mutate: {filename: mutate.ipynb}
  - name: reviewed
    notebooks:
      mutate: {filename: mutate.ipynb}
      critical: {filename: critical.ipynb}
"""
    (repo.root / "workflows" / "flows.yml").write_text(text)
    write_runbook(repo.root / "workflows" / "mutate.ipynb", [("code", "print('x')", ["confirm"])])
    write_runbook(
        repo.root / "workflows" / "critical.ipynb", [("code", "print('y')", [])], tags=["critical"]
    )
    run = start_workflow(sessions, repo, settings_for(repo), request(repo, text, "gated"))
    assert run is not None and run.state is WorkflowState.FAILED
    with sessions.begin() as session:
        tasks = {t.key: t for t in list_tasks(session, run.id)}
    assert tasks["mutate"].state is TaskState.FAILED
    assert "confirm" in (tasks["mutate"].message or "")
    # A task that needs review, with no standing approval: refused before anything starts.
    with pytest.raises(RunRefusedError, match="task critical: no standing approval"):
        start_workflow(sessions, repo, settings_for(repo), request(repo, text, "reviewed"))
    with sessions.begin() as session:
        assert [r.workflow for r in list_workflow_runs(session)] == ["gated"]


def test_a_claimed_firing_is_not_started_twice(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    text = "workflows:\n  - name: once\n    notebooks:\n      only: {filename: after.ipynb}\n"
    (repo.root / "workflows" / "flows.yml").write_text(text)
    notebook(repo.root / "workflows" / "after.ipynb", "upstream = ''", "print('ran')")
    settings = settings_for(repo)
    key = "sensor|once|2016-01-01|{}"
    first = start_workflow(
        sessions,
        repo,
        settings,
        request(repo, text, "once", trigger=TriggerKind.SENSOR, natural_key=key),
    )
    assert first is not None and first.state is WorkflowState.SUCCEEDED
    again = start_workflow(
        sessions,
        repo,
        settings,
        request(repo, text, "once", trigger=TriggerKind.SENSOR, natural_key=key),
    )
    assert again is None


def test_workflow_parameters_are_checked_before_anything_runs() -> None:
    spec = load_workflows(FAILING_WORKFLOW).workflows["fragile"]
    assert bind_workflow_parameters(spec, {}) == {"attempts_needed": 1}
    with pytest.raises(ParameterError, match="not a parameter of workflow fragile"):
        bind_workflow_parameters(spec, {"nope": 1})
    autoflow = load_workflows(GLUE_WORKFLOW).workflows["flows"]
    with pytest.raises(ParameterError, match="'region': is required"):
        bind_workflow_parameters(autoflow, {})
    assert bind_workflow_parameters(autoflow, {"region": dt.date(2016, 1, 1)}) == {
        "region": "2016-01-01"
    }


def test_resume_never_reuses_a_task_whose_record_points_outside_runs(
    repo: Repository, sessions: sessionmaker[Session]
) -> None:
    from sqlalchemy import update

    from runbook.store.tables import WorkflowTaskRow

    failing_inputs(repo)
    settings = settings_for(repo)
    run = start_workflow(sessions, repo, settings, request(repo, FAILING_WORKFLOW, "fragile"))
    assert run is not None and run.state is WorkflowState.FAILED
    # A tampered record: the succeeded task's notebook "is" a file outside the repository.
    outside = repo.root.parent / "outside.ipynb"
    outside.write_text("{}")
    with sessions.begin() as session:
        session.execute(
            update(WorkflowTaskRow)
            .where(WorkflowTaskRow.workflow_run_id == run.id, WorkflowTaskRow.key == "flaky")
            .values(notebook_path=f"../{outside.name}")
        )
    failing_inputs(repo, broken_body="print('fixed')")
    resumed = resume_workflow(sessions, repo, settings, run.id, "ci")
    assert resumed.state is WorkflowState.SUCCEEDED, resumed.message
    with sessions.begin() as session:
        second = {t.key: t for t in list_tasks(session, resumed.id)}
    # Not reused from the record pointing elsewhere: run again, from its own notebook.
    assert second["flaky"].state is TaskState.SUCCEEDED
    assert (second["flaky"].notebook_path or "").startswith(f"runs/{second['flaky'].run_id}/")
    assert (repo.root / "workflows" / "flaky.count").read_text() == "2"
