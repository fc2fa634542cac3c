"""What a cell prints never drives the operator's terminal: only colours survive."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.cli.terminal_text import visible_controls
from runbook.terminal import terminal_safe

SGR = re.compile(r"\x1b\[[0-9;:]*m")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("copy\x1b]52;c;ZXZpbA==\x07 me", "copy me"),  # OSC 52: write the clipboard
        ("t\x1b]52;c;ZXZpbA==\x1b\\x", "tx"),  # … ended by ST instead of BEL
        ("\x1b]0;pwned title\x07ok", "ok"),  # window title
        ("a\x1b[2J\x1b[Hb", "ab"),  # clear the screen, cursor home
        ("done\x1b[1A\x1b[2Kfine", "donefine"),  # move up and erase what was shown
        ("\x1bP+q544e\x1b\\x", "x"),  # DCS: a question to the terminal
        ("\x9b2Jx", "x"),  # 8-bit CSI
        ("bell\x07 back\x08 cr\r end\x1b", "bell back cr end"),
        ("\x1b[31mred\x1b[0m \x1b[1;38;5;196mbold\x1b[m", None),  # colours are kept
        ("line one\n\ttabbed", None),
    ],
)
def test_control_sequences_are_removed_and_colours_kept(raw: str, shown: str | None) -> None:
    assert terminal_safe(raw) == (raw if shown is None else shown)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(),
            st.sampled_from(["\x1b", "\x1b[", "\x1b]", "\x9b", "\x07", "\x1b\\", "m", ";", "["]),
        ),
        max_size=20,
    ).map("".join)
)
def test_no_escape_but_colours_and_no_control_character_survives(raw: str) -> None:
    safe = terminal_safe(raw)
    without_colours = SGR.sub("", safe)
    assert "\x1b" not in without_colours
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", without_colours)
    assert terminal_safe(safe) == safe


HIDING = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def test_controls_in_a_source_are_written_out_for_the_reviewer() -> None:
    source = "evil()\x1b[1A\x1b[2K\rok()  # \u202eredro\u202c\r\nnext\tline\n"
    assert visible_controls(source) == (
        "evil()\\x1b[1A\\x1b[2K\\x0dok()  # \\u202eredro\\u202c\nnext\tline\n"
    )


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_no_control_or_bidi_character_survives_in_a_shown_source(source: str) -> None:
    shown = visible_controls(source)
    assert not HIDING.search(shown)
    assert shown.count("\n") == source.replace("\r\n", "\n").count("\n")
