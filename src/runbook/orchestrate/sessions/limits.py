"""``python -m runbook.orchestrate.sessions.limits AS CPU -- COMMAND...``: exec COMMAND with
RLIMIT_AS = AS bytes and RLIMIT_CPU = CPU seconds.

A wrapper, not ``preexec_fn``: the service that starts sessions runs threads, and Python
documents ``preexec_fn`` as unsafe then. Limits are inherited by what COMMAND forks, so a
session's kernels get the same ceilings (each its own CPU count).
"""

from __future__ import annotations

import os
import resource
import sys


def main(argv: list[str]) -> None:
    """Set the limits and replace this process with the command."""
    memory, cpu, separator, *command = argv
    if separator != "--" or not command:
        raise SystemExit("usage: limits AS CPU -- COMMAND...")
    resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    # The soft limit sends SIGXCPU (Python's default: terminate); the hard one a second later kills.
    resource.setrlimit(resource.RLIMIT_CPU, (int(cpu), int(cpu) + 1))
    os.execv(command[0], command)  # noqa: S606 - the command is built by the session's starter


if __name__ == "__main__":
    main(sys.argv[1:])
