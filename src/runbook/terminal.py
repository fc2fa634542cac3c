"""Text from a notebook, made safe to print on an operator's terminal.

A cell's output is written by whatever the cell ran. Printed raw, its escape sequences act on
the operator's terminal: OSC 52 writes the clipboard, OSC 0 retitles the window, CSI sequences
clear the screen or move the cursor to overwrite what was shown, DCS sequences talk to the
terminal itself. Colours (SGR, ``ESC [ … m``) are the one kind kept: they change nothing but
how text looks. Everything else that is not printable text, a newline or a tab is dropped.
"""

from __future__ import annotations

import re
from typing import Final

# SGR: ESC [ parameters m, parameters being digits and ; or : separators only.
_SGR: Final = r"\x1b\[[0-9;:]*m"
# Any other escape sequence: CSI (ESC [ or the 8-bit \x9b) with its parameters, intermediates
# and final byte; OSC, DCS, SOS, PM and APC strings up to their terminator (BEL or ST) or the
# end of the text; any other ESC with the one character after it; a lone ESC at the end.
_OTHER_ESCAPES: Final = (
    r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?"
)
# Control characters left after the sequences: C0 but newline and tab, DEL, C1.
_CONTROLS: Final = r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f-\x9f]"
_UNSAFE: Final = re.compile(f"({_SGR})|{_OTHER_ESCAPES}|{_CONTROLS}")


def terminal_safe(text: str) -> str:
    """``text`` with every control sequence but colours, and every control character but
    newline and tab, removed."""
    return _UNSAFE.sub(lambda match: match.group(1) or "", text)
