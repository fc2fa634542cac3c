"""AutoFlow's workflows.yml, in both of its forms, runs through the scheduler as AutoFlow runs
it, and its notebooks print what they print under papermill with AutoFlow's parameters.

Then a native sensor trigger takes its ``earliest_date`` quoted or not.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import nbformat
import papermill
import pytest

from runbook.model.repository import Repository
from tests.cli.process import RUNBOOK, runbook
from tests.localhttp import JsonHandler, serving
from tests.wild.flow_support import CORPUS, copy_corpus, stream_texts

pytestmark = pytest.mark.kernel

TOKEN = "flowapi-wild-token"
RANGES = [["2016-01-02", "2016-01-02"], ["2016-01-03", "2016-01-03"]]


class _FlowAPI(JsonHandler):
    available: ClassVar[dict[str, list[str]]] = {
        "calls": ["2016-01-01", "2016-01-02", "2016-01-03"]
    }

    def answer(self, path: str) -> tuple[int, Any]:
        if path == "/api/0/available_dates" and self.bearer() == TOKEN:
            return 200, {"available_dates": type(self).available}
        return super().answer(path)


@pytest.fixture
def flowapi() -> Iterator[str]:
    with serving(_FlowAPI) as url:
        yield url


def _scheduler_once(repo: Repository, **env: str) -> list[str]:
    done = subprocess.run(
        [RUNBOOK, "scheduler", "--once", "--json"],
        cwd=repo.root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    started: list[str] = json.loads(done.stdout)["started"]
    return started


def _task_texts(repo: Repository, run_id: str) -> dict[str, list[str]]:
    shown = json.loads(runbook(repo, "workflow", "show", run_id, "--json").stdout)
    assert shown["state"] == "succeeded", shown
    return {
        task["key"]: stream_texts(nbformat.read(repo.root / task["notebook"], as_version=4))
        for task in shown["tasks"]
    }


def _papermill(folder: Path, tmp_path: Path, flowapi_url: str) -> dict[str, list[str]]:
    """The two notebooks as AutoFlow's papermill task runs them for 2016-01-03."""
    flows = tmp_path / "run_flows.out.ipynb"
    papermill.execute_notebook(
        str(folder / "run_flows.ipynb"),
        str(flows),
        parameters={
            "reference_date": "2016-01-03",
            "date_ranges": RANGES,
            "flowapi_url": flowapi_url,
            "aggregation_unit": "admin2",
        },
        kernel_name="python3",
        progress_bar=False,
    )
    report = tmp_path / "flows_report.out.ipynb"
    papermill.execute_notebook(
        str(folder / "flows_report.ipynb"),
        str(report),
        parameters={
            "reference_date": "2016-01-03",
            "previous_notebook": str(flows),
            "aggregation_unit": "admin2",
        },
        kernel_name="python3",
        progress_bar=False,
    )
    return {
        "run_flows": stream_texts(nbformat.read(flows, as_version=4)),
        "flows_report": stream_texts(nbformat.read(report, as_version=4)),
    }


@pytest.mark.timeout(900)
def test_both_forms_run_for_each_new_date_as_under_papermill(
    repo: Repository, flowapi: str, tmp_path: Path
) -> None:
    copy_corpus("autoflow", repo.root / "workflows")
    env = {"FLOWAPI_URL": flowapi, "FLOWAPI_TOKEN": TOKEN, "RUNBOOK_EGRESS_ALLOW": "127.0.0.1"}
    started = _scheduler_once(repo, **env)
    assert len(started) == 2  # one per workflow: 2016-01-03 is the only date past earliest
    runs = json.loads(runbook(repo, "workflow", "runs", "--json").stdout)
    assert sorted((r["workflow"], r["reference_date"], r["state"]) for r in runs) == [
        ("flows_above_normal", "2016-01-03", "succeeded"),
        ("flows_list_form", "2016-01-03", "succeeded"),
    ]
    expected = _papermill(CORPUS / "autoflow", tmp_path, flowapi)
    assert expected["run_flows"] == [
        "",
        "flows for 2016-01-03 at admin2\nflows:admin2:2016-01-02:2016-01-02\n"
        "flows:admin2:2016-01-03:2016-01-03\napi set: True\n",
    ]
    assert expected["flows_report"] == ["", "report for 2016-01-03 admin2 from 2 queries\n"]
    for run in runs:
        assert _task_texts(repo, run["id"]) == expected
    assert _scheduler_once(repo, **env) == []  # nothing new: nothing again


@pytest.mark.parametrize("form", ["quoted", "unquoted"])
def test_a_native_sensor_takes_earliest_date_quoted_or_not(repo: Repository, form: str) -> None:
    folder = copy_corpus("native_sensor", repo.root / "workflows")
    for other in folder.glob("workflows_*.yml"):
        if other.name != f"workflows_{form}.yml":
            other.unlink()
    checked = runbook(repo, "workflow", "validate", f"workflows/workflows_{form}.yml")
    assert checked.returncode == 0, checked.stdout
    assert len(_scheduler_once(repo)) == 1  # 2016-01-03; 2016-01-02 is before earliest_date
    runs = json.loads(runbook(repo, "workflow", "runs", "--json").stdout)
    assert [(r["workflow"], r["reference_date"]) for r in runs] == [(f"days_{form}", "2016-01-03")]
    assert _task_texts(repo, runs[0]["id"]) == {"count": ["", "day 2016-01-03\n"]}
