from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.config import database_url
from runbook.errors import ConfigError, ParameterError, PlanModifiedError, SelfReviewError
from runbook.helpers import secret
from runbook.identity import current_user
from runbook.secrets import find_secret, resolve_reference


def test_default_store_is_sqlite_in_the_repository(tmp_path: Path) -> None:
    assert database_url(tmp_path, environ={}) == f"sqlite:///{tmp_path}/.runbook/runbook.db"


def test_env_url_wins_and_the_placeholder_takes_the_password(tmp_path: Path) -> None:
    env = {"RUNBOOK_DB_URL": "postgresql://rb:{}@db/rb", "RUNBOOK_DB_PASSWORD": "p@ss/word"}
    assert database_url(tmp_path, "sqlite:///x", env) == "postgresql://rb:p%40ss%2Fword@db/rb"
    assert database_url(tmp_path, "sqlite:///x", {}) == "sqlite:///x"


def test_placeholder_password_from_a_secret_file(tmp_path: Path) -> None:
    (tmp_path / "RUNBOOK_DB_PASSWORD").write_text("from-file\n")
    env = {"RUNBOOK_DB_URL": "postgresql://rb:{}@db/rb", "RUNBOOK_SECRETS_DIR": str(tmp_path)}
    assert database_url(tmp_path, environ=env) == "postgresql://rb:from-file@db/rb"
    pointer = {
        "RUNBOOK_DB_URL": "postgresql://rb:{}@db/rb",
        "RUNBOOK_DB_PASSWORD_FILE": str(tmp_path / "RUNBOOK_DB_PASSWORD"),
    }
    assert database_url(tmp_path, environ=pointer) == "postgresql://rb:from-file@db/rb"


def test_placeholder_without_a_password_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="placeholder but no RUNBOOK_DB_PASSWORD"):
        database_url(
            tmp_path,
            environ={
                "RUNBOOK_DB_URL": "postgresql://rb:{}@db/rb",
                "RUNBOOK_SECRETS_DIR": str(tmp_path),
            },
        )


def test_secret_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "api_token").write_text("tok-file\n")
    env = {"PGPASS": "pg", "API_KEY": "k", "RUNBOOK_SECRETS_DIR": str(tmp_path)}
    assert resolve_reference("env:PGPASS", env) == "pg"
    assert resolve_reference(f"file:{tmp_path / 'api_token'}", env) == "tok-file"
    assert resolve_reference("secret:api_key", env) == "k"
    assert resolve_reference("secret:api_token", env) == "tok-file"
    assert find_secret("missing", env) is None
    with pytest.raises(ConfigError, match="env:NOPE: secret not found"):
        resolve_reference("env:NOPE", env)
    with pytest.raises(ConfigError, match="cannot read secret file"):
        resolve_reference(f"file:{tmp_path / 'nope'}", env)
    monkeypatch.setenv("DB_PASSWORD", "from-env")
    assert secret("DB_PASSWORD") == "from-env" == secret("env:DB_PASSWORD")


def test_identity_order(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path), "config", "user.email", "git@example.com"], check=True
    )
    assert current_user("cli", cwd=tmp_path, environ={"RUNBOOK_USER": "env"}) == "cli"
    assert current_user(None, cwd=tmp_path, environ={"RUNBOOK_USER": "env"}) == "env"
    assert current_user(None, cwd=tmp_path, environ={}) == "git@example.com"
    outside = tmp_path.parent / "no-git-here"
    outside.mkdir()
    assert current_user(None, cwd=outside, environ={})  # the OS user, whatever it is


def test_errors_pickle_with_their_fields() -> None:
    for error in (
        ParameterError("host", "bad", "r.ipynb"),
        SelfReviewError("p1", "alice", "alice"),
        PlanModifiedError("p1", "runs/plans/p1.ipynb", "a" * 64, "b" * 64),
    ):
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
        assert type(copy) is type(error) and str(copy) == str(error)
        assert copy.__dict__ == error.__dict__


def test_the_core_imports_no_edge_library() -> None:
    code = (
        "import sys, runbook.model.notebook, runbook.model.lint, runbook.store.plans, "
        "runbook.orchestrate.planning; "
        "print(sorted(m for m in ('click', 'rich', 'fastapi', 'celery') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_strip_filter_imports_neither_nbformat_nor_the_store() -> None:
    code = (
        "import sys, runbook.cli, runbook.cli.strip; "
        "print(sorted(m for m in ('nbformat', 'sqlalchemy', 'rich') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_autoflow_names_are_aliases_and_ours_win(tmp_path: Path) -> None:
    from runbook.config import workflow_settings

    env = {"AUTOFLOW_DB_URI": "postgresql://af:{}@db/af", "AUTOFLOW_DB_PASSWORD": "pw"}
    assert database_url(tmp_path, environ=env) == "postgresql://af:pw@db/af"
    both = {**env, "RUNBOOK_DB_URL": "postgresql://rb:{}@db/rb", "RUNBOOK_DB_PASSWORD": "mine"}
    assert database_url(tmp_path, environ=both) == "postgresql://rb:mine@db/rb"
    (tmp_path / "inputs").mkdir()
    settings = workflow_settings(
        tmp_path,
        {"max_parallel": 2},
        {
            "AUTOFLOW_INPUTS_DIR": "inputs",
            "AUTOFLOW_OUTPUTS_DIR": "out",
            "AUTOFLOW_LOG_LEVEL": "DEBUG",
            "FLOWAPI_URL": "https://flowapi.example",
        },
    )
    assert settings.inputs == (tmp_path / "inputs").resolve()
    assert settings.outputs == (tmp_path / "out").resolve()
    assert (settings.log_level, settings.flowapi_url, settings.max_parallel) == (
        "DEBUG",
        "https://flowapi.example",
        2,
    )
    defaults = workflow_settings(tmp_path, {}, {})
    assert defaults.inputs == (tmp_path / "workflows").resolve()
    assert defaults.outputs == (tmp_path / "runs").resolve()


@pytest.mark.parametrize(
    ("table", "env", "message"),
    [
        ({}, {"AUTOFLOW_INPUTS_DIR": "/etc"}, "must be inside the repository"),
        ({"outputs": "../elsewhere"}, {}, "must be inside the repository"),
        ({}, {"RUNBOOK_LOG_LEVEL": "chatty"}, "'CHATTY' is not one of DEBUG"),
        ({"max_parallel": 0}, {}, "whole number ≥ 1"),
    ],
)
def test_bad_workflow_settings_say_which(
    tmp_path: Path, table: dict[str, object], env: dict[str, str], message: str
) -> None:
    from runbook.config import workflow_settings

    with pytest.raises(ConfigError, match=message):
        workflow_settings(tmp_path, table, env)
