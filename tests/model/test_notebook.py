from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from runbook.errors import MetadataError, NotebookFormatError
from runbook.model.files import write_atomic
from runbook.model.notebook import load_runbook


def _write(path: Path, meta: object) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(
        nbformat.v4.new_code_cell("x = 1  # a number", metadata={"tags": ["parameters"]})
    )
    notebook.metadata["runbook"] = meta
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "invalid JSON at line 1"),
        ("[]", "expected a JSON object"),
        (
            '{"cells": [{"cell_type": "nonsense"}], "nbformat": 4, "nbformat_minor": 5, '
            '"metadata": {}}',
            "",
        ),
    ],
)
def test_bad_notebooks_raise_one_clear_error(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_text(text)
    with pytest.raises(NotebookFormatError, match=f"bad.ipynb: not a valid notebook: {reason}"):
        load_runbook(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotebookFormatError, match="file not found"):
        load_runbook(tmp_path / "nope.ipynb")


def test_metadata_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match=r"metadata\.runbook\.tags: must be a list"):
        load_runbook(_write(tmp_path / "r.ipynb", {"tags": "critical"}))
    with pytest.raises(MetadataError, match=r"metadata\.runbook\.colour: unknown key"):
        load_runbook(_write(tmp_path / "r.ipynb", {"colour": 1}))


def test_parameters_are_declared_or_inferred(tmp_path: Path) -> None:
    inferred = load_runbook(_write(tmp_path / "a.ipynb", {}))
    assert inferred.parameters["x"].help == "a number"
    assert inferred.meta.title == "a" and inferred.meta.declared is None
    declared = load_runbook(
        _write(
            tmp_path / "b.ipynb", {"title": "B", "version": 2, "parameters": {"y": {"type": "int"}}}
        )
    )
    assert list(declared.parameters) == ["y"] and declared.meta.version == "2"


def test_atomic_write_failing_midway_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.txt"
    target.write_text("old")

    def crash(fd: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk gone"):
        write_atomic(target, "new" * 1000)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_atomic_write_gives_normal_permissions(tmp_path: Path) -> None:
    write_atomic(tmp_path / "g.txt", "x")
    assert (tmp_path / "g.txt").stat().st_mode & 0o044 == 0o044
