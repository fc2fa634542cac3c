"""The artifact store's two backends behave alike: a folder, and S3 (moto's server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runbook.errors import ConfigError, PathEscapeError
from runbook.model.repository import Repository
from runbook.orchestrate.run_artifacts import artifact_store
from runbook.store.artifacts import ArtifactStore, FsspecArtifacts, LocalArtifacts, checked_key
from tests.api.conftest import with_service
from tests.s3 import ACCESS_KEY, SECRET_KEY, moto_bucket


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "folder":
        yield LocalArtifacts(tmp_path / "artifacts")
        return
    with moto_bucket() as bucket:
        options = {
            "key": ACCESS_KEY,
            "secret": SECRET_KEY,
            "client_kwargs": {"endpoint_url": bucket.endpoint, "region_name": "us-east-1"},
        }
        yield FsspecArtifacts(f"s3://{bucket.name}/prefix", options)


def test_put_get_list_exists(store: ArtifactStore) -> None:
    assert store.get("run-1/log.jsonl") is None
    assert not store.exists("run-1/log.jsonl")
    assert store.list("run-1") == []
    store.put("run-1/log.jsonl", b'{"a": 1}\n')
    store.put("run-1/plan.ipynb", b"{}")
    store.put("run-2/plan.ipynb", b"[]")
    assert store.get("run-1/log.jsonl") == b'{"a": 1}\n'
    assert store.exists("run-1/plan.ipynb")
    assert store.list("run-1") == ["run-1/log.jsonl", "run-1/plan.ipynb"]
    store.put("run-1/plan.ipynb", b'{"new": true}')  # replaced whole
    assert store.get("run-1/plan.ipynb") == b'{"new": true}'


@pytest.mark.parametrize("key", ["../x", "a/../b", ".hidden", "a/.b", "/abs", "a//b", "a\\b", ""])
def test_a_key_never_leaves_the_store(store: ArtifactStore, key: str) -> None:
    with pytest.raises(PathEscapeError):
        store.put(key, b"x")
    with pytest.raises(PathEscapeError):
        store.get(key)


@given(st.text(max_size=40))
def test_checked_keys_have_no_dot_segments(key: str) -> None:
    try:
        checked_key(key)
    except PathEscapeError:
        return
    assert all(part and not part.startswith(".") for part in key.split("/"))


def test_a_symbolic_link_in_the_folder_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    store = LocalArtifacts(tmp_path / "artifacts")
    (tmp_path / "artifacts" / "run-1").mkdir(parents=True)
    (tmp_path / "artifacts" / "run-1" / "log.jsonl").symlink_to(secret)
    assert store.get("run-1/log.jsonl") is None
    assert store.list("run-1") == []
    with pytest.raises(PathEscapeError):
        store.put("run-1/log.jsonl", b"x")
    assert secret.read_text() == "not yours"


def test_the_default_store_is_the_runs_folder(repo: Repository) -> None:
    store = artifact_store(repo)
    assert isinstance(store, LocalArtifacts) and store.folder == repo.runs_dir


def test_a_configured_folder_is_relative_to_the_repository(repo: Repository) -> None:
    store = artifact_store(with_service(repo, 'artifacts = "../shared"'))
    assert isinstance(store, LocalArtifacts) and store.folder == repo.root / "../shared"


def test_a_url_is_an_fsspec_store(repo: Repository) -> None:
    store = artifact_store(with_service(repo, 'artifacts = "memory://runbook/x"'))
    assert isinstance(store, FsspecArtifacts)
    store.put("run-1/log.jsonl", b"1")
    assert store.get("run-1/log.jsonl") == b"1"


@pytest.mark.parametrize("url", ["nope://bucket/prefix", "gs://bucket/prefix"])
def test_an_unknown_or_unavailable_url_is_one_config_error(repo: Repository, url: str) -> None:
    configured = with_service(repo, f'artifacts = "{url}"')
    with pytest.raises(ConfigError, match=r"service\.artifacts: '.*://bucket/prefix'"):
        artifact_store(configured)
