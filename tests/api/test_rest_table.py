"""The README's route table is the app's own: printed by scripts/rest_table.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_route_table_is_printed_from_the_app() -> None:
    printed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "rest_table.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert "| POST | `/plans` | plan |" in printed
    assert "| none |" not in printed  # every route declares a permission
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert printed.strip() in readme, "run scripts/rest_table.py and paste it into README.md"
