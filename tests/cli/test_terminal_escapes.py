"""Escape sequences a cell prints reach neither `runbook run`'s terminal nor `runbook log`."""

from __future__ import annotations

import io
import json
import os
import re

import pexpect
import pytest

from runbook.model.repository import Repository
from tests.builders import write_runbook
from tests.cli.process import RUNBOOK, runbook
from tests.cli.test_run import plan

pytestmark = pytest.mark.kernel

HOSTILE_PRINT = (
    "import sys\n"
    "sys.stdout.write('clip\\x1b]52;c;ZXZpbA==\\x07 title\\x1b]0;pwned\\x07 clear\\x1b[2J"
    " up\\x1b[1A\\x1b[2K dcs\\x1bP+q544e\\x1b\\\\ \\x1b[31mred\\x1b[0m\\n')\n"
    "import os\n"
    "os.system(\"printf 'child\\\\033]52;c;ZXZpbA==\\\\007 wrote\\\\n' >&2\")\n"
    "print('end of output')"
)


def _control_sequences(text: str) -> list[str]:
    """Every escape sequence in ``text`` that is not a colour (SGR) or rich's own cursor moves."""
    found = re.findall(r"\x1b(?:\][^\x07\x1b]*|P[^\x1b]*|\[[0-9;?]*[A-Za-z]|.)", text)
    return [s for s in found if not re.fullmatch(r"\x1b\[[0-9;]*m", s)]


def test_a_cell_cannot_drive_the_operators_terminal(repo: Repository) -> None:
    write_runbook(repo.runbooks_dir / "hostile.ipynb", [("code", HOSTILE_PRINT, [])])
    # os.system outside confirm: planned past check, so reviewed
    plan_id = plan(repo, "hostile", "--force")
    assert runbook(repo, "review", plan_id, "--approve", "--as", "bob").returncode == 0
    screen = io.StringIO()
    child = pexpect.spawn(
        RUNBOOK,
        ["run", plan_id, "--as", "dave"],
        cwd=str(repo.root),
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm-256color"},
        encoding="utf-8",
        timeout=90,
        dimensions=(50, 120),
    )
    child.logfile_read = screen
    child.expect("end of output")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    shown = screen.getvalue()
    assert "clip" in shown and "red" in shown and "child wrote" in shown
    for needle in ("\x1b]52", "\x1b]0;", "\x1b[2J", "\x1bP"):
        assert needle not in shown, repr(needle)

    run = json.loads(runbook(repo, "runs", "--json").stdout)[0]
    log = runbook(repo, "log", str(run["id"]), FORCE_COLOR="1", COLUMNS="120")
    assert log.returncode == 0, log.stderr
    assert "clip" in log.stdout and "end of output" in log.stdout
    assert _control_sequences(log.stdout) == []


def test_a_runbooks_own_escapes_are_shown_written_out_to_its_reviewer(repo: Repository) -> None:
    write_runbook(
        repo.runbooks_dir / "sneaky.ipynb",
        [
            ("markdown", "# Title\x1b]0;pwned\x07", []),
            (
                "code",
                "evil()  # \x1b[1A\x1b[2K\x1b]52;c;ZXZpbA==\x07 \u202eolleh",
                ["confirm\x1b[2J"],
            ),
        ],
    )
    shown = runbook(repo, "show", "sneaky", FORCE_COLOR="1", COLUMNS="120")
    assert shown.returncode == 0, shown.stderr
    assert _control_sequences(shown.stdout) == []
    text = re.sub(r"\x1b\[[0-9;]*m", "", shown.stdout)
    assert "\u202e" not in text
    assert "evil()" in text and "\\x1b[1A" in text and "\\u202e" in text
