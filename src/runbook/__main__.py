"""``python -m runbook``: the same command as ``runbook``."""

from runbook.cli import entry

entry()
