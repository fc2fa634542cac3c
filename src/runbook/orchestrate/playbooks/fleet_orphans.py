"""Ending what a dead playbook run's shell steps left running.

Every shell step runs in a session (and process group) of its own, so that a timeout or a
cancel can end everything it started. When the playbook run's process is killed (kill -9,
an OOM kill, a crash), nobody is left to do it: the steps' processes run on, unsupervised.
The sweep that marks such a run ``interrupted`` ends them here.

They are found by what every shell step's environment carries, ``RUNBOOK_PLAYBOOK_RUN=<run
id>`` (see ``fleet_steps.base_environment``), read from ``/proc``; the process groups of
those processes get SIGTERM, then SIGKILL after a grace. Matching on the run id, not on a
recorded process id, means a pid reused since by another program is never signalled.
Processes of the sweeping command's own group are spared (a step may run ``runbook``
itself). A step that dropped the variable from its children's environment (``env -i``) hides
them; that is out of reach. Linux only: elsewhere nothing is found.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: How long the groups have to exit on SIGTERM before SIGKILL.
GRACE: Final = 2.0
_PROC: Final = Path("/proc")
_MARKER: Final = b"RUNBOOK_PLAYBOOK_RUN="
_TARGET: Final = b"RUNBOOK_TARGET="


@dataclass(frozen=True)
class Orphan:
    """A live process of a dead run's shell step: its id, group, command line and target."""

    pid: int
    pgid: int
    command: str
    target: str | None


def find_orphans(run_id: str) -> list[Orphan]:
    """The live processes (zombies aside) whose environment names playbook run ``run_id``."""
    wanted = _MARKER + run_id.encode()
    mine = os.getpgrp()
    found = []
    for entry in _proc_pids():
        state = _stat(entry)
        if state is None or state[0] == "Z" or state[1] == mine:
            continue
        try:
            environ = (_PROC / str(entry) / "environ").read_bytes()
            command = (_PROC / str(entry) / "cmdline").read_bytes()
        except OSError:  # gone, or another user's
            continue
        variables = environ.split(b"\0")
        if wanted in variables:
            shown = command.replace(b"\0", b" ").decode("utf-8", "replace").strip()
            target = next((v[len(_TARGET) :] for v in variables if v.startswith(_TARGET)), None)
            name = target.decode("utf-8", "replace") if target is not None else None
            found.append(Orphan(entry, state[1], shown[:200], name))
    return found


def end_orphans(run_id: str, *, grace: float = GRACE) -> list[Orphan]:
    """SIGTERM the process groups of :func:`find_orphans`, SIGKILL what outlives ``grace``.

    Returns the processes found (what was ended), for the record.
    """
    orphans = find_orphans(run_id)
    groups = sorted({orphan.pgid for orphan in orphans})
    for group in groups:
        _signal(group, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while groups and time.monotonic() < deadline:
        groups = [group for group in groups if _group_alive(group)]
        if groups:
            time.sleep(0.05)
    for group in groups:
        _signal(group, signal.SIGKILL)
    return orphans


def _signal(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def _group_alive(group: int) -> bool:
    """True while a process of ``group`` is alive (a zombie waiting to be reaped is not)."""
    for entry in _proc_pids():
        state = _stat(entry)
        if state is not None and state[1] == group and state[0] != "Z":
            return True
    return False


def _proc_pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir(_PROC) if name.isdigit()]
    except OSError:
        return []


def _stat(pid: int) -> tuple[str, int] | None:
    """``(state, process group)`` of a process, from ``/proc/<pid>/stat``."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses.
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return fields[0], int(fields[2])
    except (IndexError, ValueError):
        return None
