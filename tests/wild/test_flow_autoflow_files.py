"""AutoFlow files, all of them: both forms of workflows.yml load, and what AutoFlow's parser
rejects is rejected, each with one line naming the file and the place, and nothing written.

Bad files are in tests/wild/flow/autoflow_bad/, each with one problem; they sit beside the
notebooks of tests/wild/flow/autoflow/ as in AutoFlow's inputs folder.
"""

from __future__ import annotations

import json
import shutil

import pytest

from runbook.model.repository import Repository
from tests.cli.process import runbook
from tests.wild.flow_support import CORPUS, copy_corpus

BAD = {
    "missing_notebook.yml": (
        "workflows[0].notebooks.flows_report.filename",
        "notebook 'daily_report.ipynb' not found in workflows/",
    ),
    "not_a_notebook.yml": (
        "workflows[0].notebooks.flows_report.filename",
        "'flows_report.py' is not a Jupyter notebook: expected a .ipynb file",
    ),
    "missing_template.yml": (
        "workflows[0].notebooks.flows_report.output.template",
        "template 'report.tpl' not found in workflows/",
    ),
    "reserved_label.yml": (
        "workflows[0].notebooks.date_ranges",
        "'date_ranges' cannot label a task: it is a parameter passed to every task "
        "(reference_date, date_ranges, flowapi_url); rename the task",
    ),
    "sensor_missing.yml": (
        "available_dates_sensor.workflows[0].parameters",
        "missing 'aggregation_unit', needed by workflow 'flows_above_normal'",
    ),
    "sensor_unexpected.yml": (
        "available_dates_sensor.workflows[0].parameters",
        "unexpected 'region': workflow 'flows_above_normal' takes 'aggregation_unit' "
        "(besides reference_date and date_ranges, which the sensor passes)",
    ),
    "sensor_automatic.yml": (
        "available_dates_sensor.workflows[0].parameters.reference_date",
        "is passed by the sensor itself (for the date it runs): remove it",
    ),
    "list_form_scheduled.yml": (
        "[0].kind",
        "scheduled_notebooks is not supported: AutoFlow never implemented it: write the "
        "workflow in the native form",
    ),
    "list_form_missing.yml": (
        "[0].parameters[0]",
        "missing 'aggregation_unit', needed by workflow 'flows_list_form'",
    ),
    "list_form_keys.yml": (
        "[0]",
        "missing 'schedule': each workflow has name, kind, schedule, notebooks, parameters",
    ),
}
NAMES = {
    "list_form_scheduled.yml": "nightly_flows",
    "list_form_missing.yml": "flows_list_form",
    "list_form_keys.yml": "flows_list_form",
}


def _inputs(repo: Repository, bad: str | None = None) -> None:
    copy_corpus("autoflow", repo.root / "workflows")
    if bad is not None:
        for path in (repo.root / "workflows").glob("*.yml"):
            path.unlink()  # the bad file alone, so that only its error shows
        shutil.copy(CORPUS / "autoflow_bad" / bad, repo.root / "workflows" / bad)
        shutil.copy(CORPUS / "autoflow_bad" / "flows_report.py", repo.root / "workflows")


def test_both_forms_of_workflows_yml_validate_and_list(repo: Repository) -> None:
    _inputs(repo)
    for name in ("workflows.yml", "workflows_list_form.yml"):
        checked = runbook(repo, "workflow", "validate", f"workflows/{name}")
        assert checked.returncode == 0, checked.stdout
        assert checked.stdout == f"workflows/{name}: 1 workflow, valid\n"
    listed = runbook(repo, "workflow", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)["workflows"]}
    assert set(rows) == {"flows_above_normal", "flows_list_form"}
    for row in rows.values():
        assert row["order"] == [["run_flows"], ["flows_report"]]
        assert row["triggers"] == ["sensor available_dates every 0 0 * * *"]


@pytest.mark.parametrize("bad", sorted(BAD))
def test_what_autoflow_rejects_is_one_line_exit_1_and_nothing_is_written(
    repo: Repository, bad: str
) -> None:
    _inputs(repo, bad)
    before = sorted(path.name for path in repo.runs_dir.iterdir())
    where, reason = BAD[bad]
    checked = runbook(repo, "workflow", "validate", f"workflows/{bad}")
    assert checked.returncode == 1
    lines = checked.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"workflows/{bad}: {where}: {reason}"), lines
    listed = runbook(repo, "workflow", "list")
    assert listed.returncode == 1 and listed.stderr.count("\n") == 1
    assert listed.stderr.startswith(f"runbook: error: workflows/{bad}: {where}: ")
    name = NAMES.get(bad, "flows_above_normal")
    ran = runbook(repo, "workflow", "run", name, "-p", "aggregation_unit", "admin2")
    assert ran.returncode == 1 and ran.stderr.count("\n") == 1, ran.stderr
    assert f"{where}: " in ran.stderr and "Traceback" not in ran.stderr
    assert json.loads(runbook(repo, "workflow", "runs", "--json").stdout) == []
    assert json.loads(runbook(repo, "plans", "--json").stdout) == []
    assert sorted(path.name for path in repo.runs_dir.iterdir()) == before


@pytest.mark.parametrize("label", ["reference_date", "flowapi_url"])
def test_every_automatic_parameter_is_a_reserved_label(repo: Repository, label: str) -> None:
    _inputs(repo, "reserved_label.yml")
    path = repo.root / "workflows" / "reserved_label.yml"
    path.write_text(path.read_text().replace("      date_ranges:\n", f"      {label}:\n"))
    checked = runbook(repo, "workflow", "validate", "workflows/reserved_label.yml")
    assert checked.returncode == 1 and checked.stdout.count("\n") == 1
    assert f"workflows[0].notebooks.{label}: '{label}' cannot label a task" in checked.stdout
