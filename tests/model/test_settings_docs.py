"""Every setting is documented once: the README's table is the settings models' own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_settings_table_is_printed_from_the_models() -> None:
    printed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "settings_table.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert printed.strip() in readme, "run scripts/settings_table.py and paste it into README.md"


def test_every_setting_names_its_key_and_says_what_it_means() -> None:
    from runbook.model.settings import RepositorySettings
    from runbook.model.settings_process import ProcessSettings
    from runbook.model.settings_sections import EgressSettings, WorkflowSettings

    for model in (RepositorySettings, WorkflowSettings, EgressSettings, ProcessSettings):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            assert extra.get("toml") or extra.get("env"), f"{model.__name__}.{name}: no key"
