"""Side by side: one notebook through papermill (or nbclient) and through Runbook, compared.

What is compared is what an operator looks at: whether the run succeeded, which of the
notebook's own cells ran, and their text output (stdout, results, error names). Cells either
tool adds (Runbook's and papermill's ``injected-parameters``, papermill's error banners) are
left out, so a cell is known by its place in the notebook as the author saved it.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from runbook.model.repository import Repository
from tests.cli.process import runbook

NOTEBOOKS = Path(__file__).with_name("notebooks")
#: Cells a tool adds to the author's: never compared.
_ADDED_TAGS = frozenset({"injected-parameters", "papermill-error-cell-tag"})


@dataclass(frozen=True)
class Outcome:
    """How a notebook's run ended, as an operator compares two of them."""

    state: str  # "succeeded" or "failed"
    ran: tuple[int, ...]  # the author's code cells that were executed, by position
    outputs: tuple[str, ...]  # the text each of those cells printed or returned


def outcome_of(notebook: Any, state: str) -> Outcome:
    """The outcome of an executed notebook that ended in ``state``."""
    own = [c for c in notebook.cells if not _ADDED_TAGS & set(c.metadata.get("tags", []))]
    ran = [
        (i, c)
        for i, c in enumerate(own)
        if c.cell_type == "code" and c.get("execution_count") is not None
    ]
    return Outcome(state, tuple(i for i, _ in ran), tuple(_text(c) for _, c in ran))


def _text(cell: Any) -> str:
    parts = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream" and output.get("name") == "stdout":
            parts.append(output["text"])
        elif kind in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
        elif kind == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
    return "".join(parts)


def through_papermill(source: Path, folder: Path, **options: Any) -> Outcome:
    """Execute ``source`` with papermill (``options`` as ``execute_notebook`` takes them)."""
    import papermill

    output = folder / f"papermill-{source.name}"
    state = "succeeded"
    try:
        with warnings.catch_warnings():  # nbformat's about 4.5 cells without ids, for one
            warnings.simplefilter("ignore")
            papermill.execute_notebook(
                str(source), str(output), progress_bar=False, cwd=str(folder), **options
            )
    except Exception:  # papermill's way to say the notebook failed: any exception
        state = "failed"
    return outcome_of(nbformat.read(output, as_version=4), state)


def through_nbclient(source: Path, folder: Path, **options: Any) -> Outcome:
    """Execute ``source`` with nbclient, as ``jupyter execute`` does."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(source, as_version=4)
    state = "succeeded"
    try:
        NotebookClient(notebook, resources={"metadata": {"path": str(folder)}}, **options).execute()
    except CellExecutionError:
        state = "failed"
    return outcome_of(notebook, state)


@dataclass(frozen=True)
class RunbookRun:
    """A notebook planned and run by the ``runbook`` command: what it said and did."""

    plan_id: str
    plan_stderr: str
    code: int  # the exit code of `runbook run`
    record: dict[str, Any]  # `runbook run --json`
    stderr: str
    outcome: Outcome


def through_runbook(repo: Repository, source: Path, *run_args: str) -> RunbookRun:
    """Copy ``source`` into the repository's runbooks, then `runbook plan` and `runbook run`
    it non-interactively (``--yes``), each a real process."""
    target = repo.runbooks_dir / source.name
    shutil.copyfile(source, target)
    planned = runbook(repo, "plan", repo.relative(target), "--as", "alice", "--json")
    assert planned.returncode == 0, planned.stderr
    plan_id = str(json.loads(planned.stdout)["id"])
    ran = runbook(repo, "run", plan_id, "--yes", "--json", "--as", "alice", *run_args)
    assert "Traceback" not in ran.stderr, ran.stderr
    record = json.loads(ran.stdout)
    executed = nbformat.read(repo.root / record["notebook"], as_version=4)
    return RunbookRun(
        plan_id=plan_id,
        plan_stderr=planned.stderr,
        code=ran.returncode,
        record=record,
        stderr=ran.stderr,
        outcome=outcome_of(executed, record["state"]),
    )


def side_by_side(
    repo: Repository,
    sources: list[Path],
    folder: Path,
    run_args: tuple[str, ...] = (),
    through: Callable[..., Outcome] = through_papermill,
    **options: Any,
) -> list[tuple[RunbookRun, Outcome]]:
    """Each source through Runbook (a few processes at a time) and through papermill, or
    ``through`` nbclient, with ``options`` (here, meanwhile): kernel starts are slow, so
    they overlap."""
    with ThreadPoolExecutor(3) as pool:
        runs = pool.map(lambda source: through_runbook(repo, source, *run_args), sources)
        expected = [through(source, folder, **options) for source in sources]
        return list(zip(runs, expected, strict=True))


def without_reports(repo: Repository) -> None:
    """No report after each run: nbconvert's HTML costs time a test of outcomes can spare."""
    config = repo.root / "runbook.toml"
    config.write_text(config.read_text().replace('formats = ["html"]', "formats = []"))
