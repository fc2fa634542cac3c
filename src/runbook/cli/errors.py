"""Errors as one stderr line (their exit codes come from :mod:`runbook.outcomes`)."""

from __future__ import annotations


def one_line(text: str) -> str:
    """Collapse a message to a single line, so stderr stays one line per error."""
    return " ".join(text.split())
