"""Notebooks saved in every nbformat 4 minor, with and without cell ids, plan and run as
papermill runs them; the plan is a valid nbformat 4.5 notebook, as papermill's output is."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from runbook.model.repository import Repository
from tests.wild.sidebyside import NOTEBOOKS, side_by_side, without_reports

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

MINORS = sorted(NOTEBOOKS.glob("nbformat-4.*.ipynb"))


def test_every_nbformat_4_minor_plans_and_runs_as_papermill_runs_it(
    repo: Repository, tmp_path: Path
) -> None:
    assert len(MINORS) == 12  # 4.0 to 4.5, each with and without cell ids
    without_reports(repo)
    for source, (run, papermill) in zip(MINORS, side_by_side(repo, MINORS, tmp_path), strict=True):
        assert run.code == 0, (source.name, run.stderr)
        assert "warning" not in run.plan_stderr, run.plan_stderr
        assert run.outcome == papermill, source.name
        assert run.outcome.ran == (1, 2, 3)
        plan_file = repo.root / "runs" / "plans" / f"{run.plan_id}.ipynb"
        plan = nbformat.read(plan_file, as_version=nbformat.NO_CONVERT)
        nbformat.validate(plan)
        assert (plan.nbformat, plan.nbformat_minor) == (4, 5)
        saved = json.loads(source.read_text())
        assert plan.metadata.runbook.plan.nbformat == f"4.{saved['nbformat_minor']}"
        assert len({cell.id for cell in plan.cells}) == len(plan.cells)
        if source.stem.endswith("-ids"):  # the author's ids are kept, whatever the minor
            own = [c for c in plan.cells if "injected-parameters" not in c.metadata.get("tags", [])]
            assert [cell.id for cell in own] == [cell["id"] for cell in saved["cells"]]
