"""Kernels as another OS user: ``[kernel] user`` of ``runbook.toml``.

A kernel of the runbook's own user can read what that user can: ``/proc/<runbook>/environ``
and the memory of the runbook process, the SQLite store, the secrets folder. A kernel of a
user of its own reads none of them. The runbook process (root) starts the kernel as that
user, with that user's groups only, and hands it the run's kernel folder (its sockets and
connection file); nothing else of the repository's state is open to it.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.errors import ConfigError

#: Where a kernel user is configured, named in every error about it.
SETTING = "runbook.toml: kernel.user"


@dataclass(frozen=True)
class KernelUser:
    """The OS account a run's kernel runs as."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str

    def process_arguments(self) -> dict[str, Any]:
        """``subprocess.Popen`` arguments that start the kernel as this user."""
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}

    def environment(self, folder: Path) -> dict[str, str]:
        """Variables naming this user, and an IPython folder it can write (in ``folder``)."""
        return {
            "HOME": self.home,
            "USER": self.name,
            "LOGNAME": self.name,
            "IPYTHONDIR": str(folder / "ipython"),
        }

    def hand_over(self, path: Path) -> None:
        """Make ``path`` (a file or folder we made for the kernel) this user's own."""
        os.chown(path, self.uid, self.gid)


def kernel_user(name: str) -> KernelUser | None:
    """The account named by ``[kernel] user``; None when kernels run as we do.

    Raises :class:`ConfigError` for a user this machine does not have, or when we are not
    root and so cannot start a process as anyone else.
    """
    if not name:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ConfigError(SETTING, f"{name!r} is not a user on this machine") from None
    if entry.pw_uid == os.geteuid():
        return None
    if os.geteuid() != 0:
        raise ConfigError(
            SETTING,
            f"starting kernels as {name!r} needs runbook to run as root "
            f"(it runs as uid {os.geteuid()})",
        )
    return KernelUser(
        name=name,
        uid=entry.pw_uid,
        gid=entry.pw_gid,
        groups=tuple(os.getgrouplist(name, entry.pw_gid)),
        home=entry.pw_dir,
    )


def launch_failure(user: KernelUser, error: OSError) -> ConfigError:
    """What to say when the kernel's program cannot be started as ``user``."""
    where = error.filename or "the kernel's program"
    return ConfigError(
        SETTING,
        f"the kernel cannot start as {user.name!r}: {where}: {error.strerror or error}"
        " (the kernel's Python, its packages and the working folder must be readable by it)",
    )
