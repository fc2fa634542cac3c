"""Which repository files a kernel can import, and how a change to them is named."""

from __future__ import annotations

import os
import py_compile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from runbook.model.modules import file_sha256, manifest_changes, module_manifest


def _write(root: Path, relative: str, text: str = "x = 1\n") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_every_importable_file_in_the_repository_is_listed(tmp_path: Path) -> None:
    for relative in (
        "sitecustomize.py",
        "runbooks/rbhelper.py",
        "lib/ops/__init__.py",
        "lib/ops/db/queries.py",
        "scripts/tool.py",
        ".hidden/shadow.py",
    ):
        _write(tmp_path, relative)
    py_compile.compile(str(_write(tmp_path, "tmp/src.py")), cfile=str(tmp_path / "legacy.pyc"))
    (tmp_path / "tmp/src.py").unlink()
    (tmp_path / "native.so").write_bytes(b"\x7fELF")
    manifest = module_manifest(tmp_path)
    assert sorted(manifest) == [
        ".hidden/shadow.py",
        "legacy.pyc",
        "lib/ops/__init__.py",
        "lib/ops/db/queries.py",
        "native.so",
        "runbooks/rbhelper.py",
        "scripts/tool.py",
        "sitecustomize.py",
    ]
    assert manifest["runbooks/rbhelper.py"] == file_sha256(tmp_path / "runbooks/rbhelper.py")


def test_caches_state_outputs_vcs_and_virtualenvs_are_not_repository_code(tmp_path: Path) -> None:
    _write(tmp_path, "helper.py")
    _write(tmp_path, "__pycache__/helper.cpython-311.pyc")
    _write(tmp_path, ".git/hooks/hook.py")
    _write(tmp_path, ".venv/pyvenv.cfg", "home = /usr\n")
    _write(tmp_path, ".venv/lib/site-packages/requests.py")
    _write(tmp_path, "runs/run-1/generated.py")
    _write(tmp_path, ".runbook/state.py")
    _write(tmp_path, "notes.txt")
    manifest = module_manifest(tmp_path, skip=(tmp_path / "runs", tmp_path / ".runbook"))
    assert list(manifest) == ["helper.py"]


def test_pythonpath_entries_inside_the_repository_are_import_roots(tmp_path: Path) -> None:
    _write(tmp_path, "runs/vendored/mod.py")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    _write(outside, "elsewhere.py")
    pythonpath = os.pathsep.join(["runs/vendored", str(outside), "", "missing", "../x"])
    manifest = module_manifest(tmp_path, pythonpath=pythonpath, skip=(tmp_path / "runs",))
    assert list(manifest) == ["runs/vendored/mod.py"]


def test_symlinked_files_are_hashed_through_the_link(tmp_path: Path) -> None:
    target = _write(tmp_path.parent / f"{tmp_path.name}-lib", "real.py", "y = 2\n")
    (tmp_path / "linked.py").symlink_to(target)
    (tmp_path / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    assert module_manifest(tmp_path) == {"linked.py": file_sha256(target)}


def test_changes_are_named_per_file() -> None:
    recorded = {"a.py": "1", "b.py": "2", "c.py": "3"}
    current = {"a.py": "1", "b.py": "9", "d.py": "4"}
    assert manifest_changes(recorded, current) == ["b.py changed", "c.py removed", "d.py added"]
    assert manifest_changes(current, current) == []


@given(
    st.dictionaries(st.text(min_size=1), st.text(min_size=1), max_size=8),
    st.dictionaries(st.text(min_size=1), st.text(min_size=1), max_size=8),
)
def test_changes_are_empty_exactly_when_the_manifests_agree(
    recorded: dict[str, str], current: dict[str, str]
) -> None:
    changes = manifest_changes(recorded, current)
    assert (changes == []) == (recorded == current)
    assert len(changes) == len(
        {p for p in {*recorded, *current} if recorded.get(p) != current.get(p)}
    )
