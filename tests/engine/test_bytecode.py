"""Shared kernel bytecode: compiled by us from sources, never the repository's, never planted."""

from __future__ import annotations

import os
import py_compile
import sys
from pathlib import Path

from runbook.engine.bytecode import SHARED_FOLDER, adopt, seed

TAG = sys.implementation.cache_tag


def _in_prefix(prefix: Path, source: Path) -> Path:
    """Where a kernel with ``PYTHONPYCACHEPREFIX=prefix`` keeps the bytecode of ``source``."""
    return prefix / source.parent.relative_to("/") / f"{source.stem}.{TAG}.pyc"


def _tree(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    site = tmp_path / "site"
    repo = tmp_path / "repo"
    (site).mkdir()
    (repo / ".runbook").mkdir(parents=True)
    (site / "lib.py").write_text("VALUE = 'genuine'\n")
    (repo / "helper.py").write_text("VALUE = 'reviewed'\n")
    return site, repo, repo / ".runbook", repo / ".runbook" / "kernels" / "r-1" / "pycache"


def test_what_a_kernel_compiled_is_compiled_again_by_us_and_the_repository_is_left_out(
    tmp_path: Path,
) -> None:
    site, repo, state, prefix = _tree(tmp_path)
    planted = _in_prefix(prefix, site / "lib.py")
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"planted by a kernel")
    own = _in_prefix(prefix, repo / "helper.py")
    own.parent.mkdir(parents=True)
    py_compile.compile(str(repo / "helper.py"), cfile=str(own))
    adopt(prefix, state, repo)
    shared = _in_prefix(state / SHARED_FOLDER, site / "lib.py")
    genuine = tmp_path / "genuine.pyc"
    py_compile.compile(
        str(site / "lib.py"),
        cfile=str(genuine),
        invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP,
    )
    assert shared.read_bytes() == genuine.read_bytes()
    assert not _in_prefix(state / SHARED_FOLDER, repo / "helper.py").exists()


def test_each_run_gets_links_to_the_shared_bytecode_but_the_repositorys(tmp_path: Path) -> None:
    site, repo, state, prefix = _tree(tmp_path)
    for source in (site / "lib.py", repo / "helper.py"):
        cached = _in_prefix(state / SHARED_FOLDER, source)
        cached.parent.mkdir(parents=True, exist_ok=True)
        py_compile.compile(str(source), cfile=str(cached))
    seed(prefix, state, repo)
    linked = _in_prefix(prefix, site / "lib.py")
    assert os.path.samefile(linked, _in_prefix(state / SHARED_FOLDER, site / "lib.py"))
    assert not _in_prefix(prefix, repo / "helper.py").exists()
