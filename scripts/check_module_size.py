"""Fail when a module under src/ grows past 600 lines: split it by concept instead."""

from __future__ import annotations

import sys
from pathlib import Path

LIMIT = 600


def main() -> int:
    oversized = [
        (path, n)
        for path in sorted(Path("src").rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > LIMIT
    ]
    for path, lines in oversized:
        print(f"{path}: {lines} lines (limit {LIMIT}); split it by concept")
    return 1 if oversized else 0


if __name__ == "__main__":
    sys.exit(main())
