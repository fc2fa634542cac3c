from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook.errors import ConfigError, NotARepositoryError, PathEscapeError, UnknownRunbookError
from runbook.model.repository import (
    ReviewPolicy,
    find_repository,
    read_config,
    resolve_inside,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "ops" / "runbooks" / "db").mkdir(parents=True)
    (tmp_path / "ops" / "runbook.toml").write_text("")
    (tmp_path / "ops-secret").mkdir()
    (tmp_path / "ops-secret" / "keys").write_text("sentinel")
    return tmp_path / "ops"


@pytest.mark.parametrize(
    "path",
    [
        "../ops-secret/keys",
        "runbooks/../../ops-secret/keys",
        "/etc/passwd",
        "runbooks/\x00x",
        "",
        "  ",
    ],
)
def test_paths_outside_the_repository_are_refused(root: Path, path: str) -> None:
    with pytest.raises(PathEscapeError):
        resolve_inside(root, path)


def test_sibling_sharing_the_name_prefix_is_outside(root: Path) -> None:
    with pytest.raises(PathEscapeError, match="outside the repository"):
        resolve_inside(root, str(root.parent / "ops-secret" / "keys"))


def test_symlink_leaving_the_repository_is_an_escape(root: Path) -> None:
    os.symlink(root.parent / "ops-secret", root / "runbooks" / "link")
    with pytest.raises(PathEscapeError):
        resolve_inside(root, "runbooks/link/keys")


def test_strict_mode_refuses_absolute_and_dotdot_even_inside(root: Path) -> None:
    assert resolve_inside(root, "runbooks/db/../x.ipynb") == root / "runbooks" / "x.ipynb"
    for path in ("runbooks/db/../x.ipynb", str(root / "runbooks"), "C:\\x", "\\\\host\\s"):
        with pytest.raises(PathEscapeError):
            resolve_inside(root, path, strict=True)


# The fixture's folders are only read, so sharing them across examples is safe.
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.sampled_from(
            ["..", ".", "runbooks", "ops-secret", "ops", "/", "x", "\\", "%2e%2e", "~"]
        ),
        max_size=6,
    )
)
def test_no_generated_path_escapes(root: Path, parts: list[str]) -> None:
    path = "/".join(parts)
    try:
        resolved = resolve_inside(root, path)
    except PathEscapeError:
        return
    assert resolved.is_relative_to(root.resolve())


def test_find_repository_walks_up(root: Path) -> None:
    assert find_repository(root / "runbooks" / "db").root == root.resolve()
    with pytest.raises(NotARepositoryError, match="runbook init"):
        find_repository(root.parent / "ops-secret")


def test_find_runbook_by_name_and_path_with_hints(root: Path) -> None:
    (root / "runbooks" / "restart-database.ipynb").write_text("{}")
    (root / "runbooks" / "db" / "failover.ipynb").write_text("{}")
    repo = find_repository(root)
    expected = root.resolve() / "runbooks" / "restart-database.ipynb"
    assert repo.find_runbook("restart-database") == expected
    assert repo.find_runbook("runbooks/restart-database.ipynb") == expected
    assert repo.find_runbook("db/failover").name == "failover.ipynb"
    with pytest.raises(UnknownRunbookError, match="did you mean restart-database"):
        repo.find_runbook("restart-databse")
    with pytest.raises(PathEscapeError):
        repo.find_runbook("../ops-secret/keys")


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    config = tmp_path / "runbook.toml"
    config.write_text('[review]\nrequire = "sometimes"\n')
    with pytest.raises(ConfigError, match=r"review\.require: 'sometimes' is not one of"):
        read_config(config)
    config.write_text("[review\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        read_config(config)


def test_review_policy() -> None:
    assert ReviewPolicy("all").requires_review(())
    assert not ReviewPolicy("none").requires_review(("critical",))
    tagged = ReviewPolicy("tagged", ("critical", "prod"))
    assert tagged.requires_review(("db", "prod"))
    assert not tagged.requires_review(("db",))
