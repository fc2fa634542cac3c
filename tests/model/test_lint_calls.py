"""Direct process and file calls found by ``ast``: outside confirm an error, never a crash."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook.errors import MetadataError
from runbook.model.lint import Finding, Severity, check_runbook
from runbook.model.lint_calls import scan_cell
from runbook.model.notebook import Runbook, load_runbook


def _runbook(
    tmp_path: Path, cells: list[tuple[str, list[str]]], meta: dict[str, object] | None = None
) -> Runbook:
    notebook = nbformat.v4.new_notebook()
    make: Callable[..., nbformat.NotebookNode] = nbformat.v4.new_code_cell
    notebook.cells = [make(source, metadata={"tags": tags}) for source, tags in cells]
    notebook.metadata["runbook"] = meta or {"title": "t"}
    path = tmp_path / "r.ipynb"
    nbformat.write(notebook, path)
    return load_runbook(path)


def _errors(findings: list[Finding]) -> list[tuple[str, int | None]]:
    return [(f.code, f.cell) for f in findings if f.severity is Severity.ERROR]


@pytest.mark.parametrize(
    "source",
    [
        "import subprocess\nsubprocess.run(['ls'])",
        "import subprocess as sp\nsp.Popen('x')",
        "from subprocess import check_output as co\nco(['id'])",
        "import os\nos.system('reboot')",
        "os.popen('x')",
        "os.execvp('x', ['x'])",
        "os.spawnlp(0, 'x', 'x')",
        "import shutil\nshutil.rmtree('/srv/data')",
        "from shutil import move\nmove('a', 'b')",
        "os.remove('f')",
        "os.unlink('f')",
        "os.rmdir('d')",
        "from pathlib import Path\nPath('f').unlink()",
        "p.rmdir()",
        "if x:\n    for f in files:\n        f.unlink(missing_ok=True)",
    ],
)
def test_a_direct_destructive_call_outside_confirm_is_an_error(tmp_path: Path, source: str) -> None:
    runbook = _runbook(tmp_path, [("print('check')", ["precheck"]), (source, [])])
    assert ("call-without-confirm", 1) in _errors(check_runbook(runbook))


def test_an_import_in_an_earlier_cell_resolves_a_later_call(tmp_path: Path) -> None:
    runbook = _runbook(tmp_path, [("from os import system as run_it", []), ("run_it('x')", [])])
    assert _errors(check_runbook(runbook)) == [("call-without-confirm", 1)]


@pytest.mark.parametrize(
    "tags, source",
    [
        (["confirm"], "import shutil\nshutil.rmtree('/srv/data')"),
        (["rollback"], "os.system('x')"),
        (["skip-execution"], "os.system('x')"),
        ([], "subprocess.run(['ls'])  # runbook: not-mutative"),
        ([], "os.path.exists('f')\nshutil.copy('a', 'b')\nsubprocess.PIPE"),
        ([], "print('subprocess.run(x)')"),
    ],
)
def test_confirm_the_mark_and_harmless_calls_are_quiet(
    tmp_path: Path, tags: list[str], source: str
) -> None:
    runbook = _runbook(tmp_path, [("print('check')", ["precheck"]), (source, tags)])
    assert [code for code, _ in _errors(check_runbook(runbook))] == []


def test_ipython_syntax_is_tolerated_and_a_syntax_error_is_a_warning(tmp_path: Path) -> None:
    runbook = _runbook(
        tmp_path,
        [
            ("%load_ext autoreload\nfiles = !ls\n!df -h\nos.remove('x')", []),
            ("%%bash\nls -l", []),
            ("def broken(:\n    pass", []),
        ],
    )
    findings = check_runbook(runbook)
    assert _errors(findings) == [("call-without-confirm", 0)]
    warning = next(f for f in findings if f.code == "syntax-error")
    assert warning.cell == 2 and warning.severity is Severity.WARNING
    assert "line 1" in warning.message


def test_a_helpers_dry_run_forbids_direct_calls_in_confirm_cells(tmp_path: Path) -> None:
    meta: dict[str, object] = {"title": "t", "dry_run": "helpers"}
    runbook = _runbook(
        tmp_path,
        [
            ("print('check')", ["precheck"]),
            ("sh('systemctl restart db', mutative=True)", ["confirm"]),
            ("import shutil\nshutil.rmtree('/srv')", ["confirm"]),
            ("!rm -rf /srv", ["confirm"]),
            ("sh('rm -rf /srv')", ["confirm"]),
            ("print(sh('ls /srv').stdout)", ["confirm"]),  # only reads: runs in a dry run
        ],
        meta,
    )
    assert _errors(check_runbook(runbook)) == [
        ("dry-run-outside-helpers", 2),
        ("dry-run-outside-helpers", 3),
        ("dry-run-outside-helpers", 4),
    ]


def test_a_helpers_dry_run_forbids_touching_the_dry_run_variable(tmp_path: Path) -> None:
    meta: dict[str, object] = {"title": "t", "dry_run": "helpers"}
    runbook = _runbook(
        tmp_path,
        [
            ("import os\nos.environ['RUNBOOK_DRY_RUN'] = '0'", ["precheck"]),
            ("sh('systemctl restart db', mutative=True)", ["confirm"]),
        ],
        meta,
    )
    assert _errors(check_runbook(runbook)) == [("dry-run-outside-helpers", 0)]


def test_an_unknown_dry_run_mode_is_a_metadata_error(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="dry_run"):
        _runbook(tmp_path, [("x = 1", [])], {"title": "t", "dry_run": "everything"})


_PIECES = st.sampled_from(
    [
        "import os",
        "os.system('x')",
        "!ls",
        "%%bash",
        "x = !ls",
        "%time",
        "def f(:",
        "    ",
        "(",
        "'''",
        "\\",
        "p.unlink()",
        "from . import x",
        "sh('a', mutative=True)",
        "\x00",
        "\t",
    ]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_PIECES, st.text(max_size=40)), max_size=12))
def test_scanning_any_cell_source_never_raises(pieces: list[str]) -> None:
    scan = scan_cell("\n".join(pieces))
    assert scan.syntax_error is None or isinstance(scan.syntax_error, str)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=60), min_size=1, max_size=4))
def test_linting_any_cell_sources_never_raises(tmp_path: Path, sources: list[str]) -> None:
    runbook = _runbook(tmp_path, [(source, []) for source in sources])
    for finding in check_runbook(runbook):
        assert finding.severity in (Severity.ERROR, Severity.WARNING)
