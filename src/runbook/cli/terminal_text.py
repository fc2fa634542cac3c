"""Run text for rich: terminal-safe (see :mod:`runbook.terminal`) and markup-escaped."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text

from runbook.terminal import terminal_safe

__all__ = ["ansi_text", "safe_markup", "terminal_safe"]


def safe_markup(value: object) -> str:
    """``value`` as text for rich markup: terminal-safe, and its brackets escaped."""
    return escape(terminal_safe(str(value)))


def ansi_text(text: str) -> Text:
    """Output text as a rich ``Text``: its colours kept, every other sequence dropped."""
    return Text.from_ansi(terminal_safe(text))
