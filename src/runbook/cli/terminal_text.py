"""Run text for rich: terminal-safe (see :mod:`runbook.terminal`) and markup-escaped.

A runbook's own code and markdown are shown differently (:func:`visible_controls`): a reviewer
must see that a control character is there, not have it silently removed.
"""

from __future__ import annotations

import re
from typing import Final

from rich.markup import escape
from rich.text import Text

from runbook.terminal import terminal_safe

__all__ = ["ansi_text", "safe_markup", "terminal_safe", "visible_controls"]

# Shown, not acted on, in code and markdown a person reviews: C0 but newline and tab, DEL, C1,
# and the bidirectional controls that reorder how a line reads ("Trojan Source").
_HIDING: Final = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def visible_controls(source: str) -> str:
    """``source`` with every control character written out as an escape (``\\x1b``,
    ``\\u202e``): a runbook's code and markdown, shown for review, can neither drive the
    terminal nor hide or reorder what the reviewer reads."""
    return _HIDING.sub(lambda match: _escape(match.group()), source.replace("\r\n", "\n"))


def _escape(character: str) -> str:
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_markup(value: object) -> str:
    """``value`` as text for rich markup: terminal-safe, and its brackets escaped."""
    return escape(terminal_safe(str(value)))


def ansi_text(text: str) -> Text:
    """Output text as a rich ``Text``: its colours kept, every other sequence dropped."""
    return Text.from_ansi(terminal_safe(text))
