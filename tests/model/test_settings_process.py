"""The process variables: read through one model, each declared once, bad values named."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runbook.errors import ConfigError
from runbook.model.settings import RepositorySettings
from runbook.model.settings_process import TOLD_TO_KERNELS, ProcessSettings, process_settings
from runbook.model.settings_sections import EgressSettings, WorkflowSettings
from runbook.secrets import DEFAULT_SECRETS_DIR

SRC = Path(__file__).resolve().parents[2] / "src"
_NAMED = re.compile(r"""b?["'](RUNBOOK_[A-Z0-9_]*[A-Z0-9])=?["']""")
_MODELS = (RepositorySettings, WorkflowSettings, EgressSettings, ProcessSettings)


def declared() -> set[str]:
    """Every variable a settings model reads or a field's description names, and those
    Runbook tells kernels."""
    names = set(TOLD_TO_KERNELS)
    for model in _MODELS:
        for field in model.model_fields.values():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            env = extra.get("env", [])
            names.update(str(n) for n in (env if isinstance(env, list) else []))
            names.update(re.findall(r"RUNBOOK_[A-Z0-9_]*[A-Z0-9]", field.description or ""))
    return names


def undeclared(files: Iterable[Path]) -> dict[str, str]:
    """Each ``RUNBOOK_*`` variable named in a string literal of ``files`` that no model
    declares, with the first file naming it."""
    found: dict[str, str] = {}
    known = declared()
    for path in files:
        for name in _NAMED.findall(path.read_text(encoding="utf-8")):
            if name not in known:
                found.setdefault(name, str(path))
    return found


def test_every_runbook_variable_named_in_src_is_declared_by_a_model() -> None:
    assert undeclared(SRC.rglob("*.py")) == {}


def test_a_variable_no_model_declares_is_found(tmp_path: Path) -> None:
    module = tmp_path / "reader.py"
    module.write_text('import os\nos.environ.get("RUNBOOK_SHINY_NEW")\n', encoding="utf-8")
    assert undeclared([module]) == {"RUNBOOK_SHINY_NEW": str(module)}


def test_defaults_and_one_lease_of_store_retries() -> None:
    settings = process_settings({})
    assert settings.lease_seconds == 30.0
    assert settings.store_retry_seconds == 30.0
    assert settings.secrets_dir == Path(DEFAULT_SECRETS_DIR)  # the kernel-side reader's
    told = process_settings({"RUNBOOK_LEASE_SECONDS": "2", "RUNBOOK_DEBUG": "1"})
    assert (told.lease_seconds, told.store_retry_seconds, told.debug) == (2.0, 2.0, True)
    assert process_settings({"RUNBOOK_STORE_RETRY_SECONDS": "0"}).store_retry_seconds == 0.0


def test_the_environment_is_read_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBOOK_CHROMIUM", "/opt/chrome")
    assert process_settings().chromium == "/opt/chrome"
    monkeypatch.setenv("RUNBOOK_CHROMIUM", "/opt/other")
    assert process_settings().chromium == "/opt/other"


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("RUNBOOK_LEASE_SECONDS", "soon", "'soon' is not a number"),
        ("RUNBOOK_LEASE_SECONDS", "0", "'0' is not a number of seconds above zero"),
        ("RUNBOOK_LEASE_SECONDS", "inf", "'inf' is not a number of seconds above zero"),
        ("RUNBOOK_STORE_RETRY_SECONDS", "-1", "'-1' is not zero or more"),
        ("RUNBOOK_STORE_RETRY_SECONDS", "nan", "'nan' is not zero or more"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        process_settings({variable: value})
    assert str(raised.value) == f"{variable}: {says}"


@given(st.text(min_size=1).filter(lambda t: "\x00" not in t))
def test_any_lease_text_is_a_positive_lease_or_one_named_error(text: str) -> None:
    try:
        lease = process_settings({"RUNBOOK_LEASE_SECONDS": text}).lease_seconds
    except ConfigError as error:
        assert str(error).startswith("RUNBOOK_LEASE_SECONDS: ")
        assert "\n" not in str(error).replace(text, "")
    else:
        assert math.isfinite(lease) and lease > 0
