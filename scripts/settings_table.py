"""Print the settings tables of the README from the settings models' fields.

Run ``python scripts/settings_table.py`` and paste its output under "Settings" in README.md.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from pydantic_settings import BaseSettings

from runbook.model.settings import RepositorySettings
from runbook.model.settings_process import TOLD_TO_KERNELS, ProcessSettings
from runbook.model.settings_sections import EgressSettings, WorkflowSettings
from runbook.model.settings_service import ServiceSettings
from runbook.model.settings_sessions import SessionSettings


def rows(model: type[BaseSettings]) -> list[str]:
    """One Markdown table row per field: key, variables, default, meaning."""
    lines = []
    for field in model.model_fields.values():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        key = str(extra.get("toml", "")).replace(".*", "")
        names = extra.get("env", [])
        env = ", ".join(f"`{n}`" for n in names) if isinstance(names, list) else ""
        value = str(field.default) if isinstance(field.default, Path) else field.default
        value = value.value if isinstance(value, Enum) else value
        default = "(folder name)" if field.default_factory is not None else repr(value)
        if key == "retention":
            default = "keep forever"
        shown = f"`{key}`" if key else "—"
        lines.append(f"| {shown} | {env or '—'} | `{default}` | {field.description} |")
    return lines


def main() -> None:
    """Print the table."""
    print("| runbook.toml key | Variable (first set wins, over the file) | Default | Meaning |")
    print("|---|---|---|---|")
    for model in (
        RepositorySettings,
        WorkflowSettings,
        EgressSettings,
        ServiceSettings,
        SessionSettings,
    ):
        print("\n".join(rows(model)))
    print("\nProcess variables (no runbook.toml key sets them):\n")
    print("| Variable | Default | Meaning |")
    print("|---|---|---|")
    for row in rows(ProcessSettings):
        print(row.replace("| — ", "", 1))
    print("\nTold to every kernel and playbook step (for notebooks to read):\n")
    print("| Variable | Meaning |")
    print("|---|---|")
    for name, meaning in TOLD_TO_KERNELS.items():
        print(f"| `{name}` | {meaning} |")


if __name__ == "__main__":
    main()
