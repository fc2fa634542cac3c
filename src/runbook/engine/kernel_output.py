"""What a kernel process writes to its own stdout/stderr, masked before anyone sees it.

A cell's child processes (``os.system``, ``subprocess.run`` without capture) write straight
to the kernel's file descriptors, not through the kernel's messages, so the client never
masks it. The kernel is launched with both piped (``launch.async_launch_kernel``); this
module reads them line by line, masks each line with the run's masker and forwards it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import IO, Any, Final

from runbook.masking import SecretMasker

#: How long the end of a run waits for the last lines: a cell's background child may keep
#: the pipe open after the kernel is gone, and must not keep the run from ending.
DRAIN_SECONDS: Final = 5.0


def forward_kernel_output(
    manager: Any, masker: SecretMasker, write: Callable[[str], object]
) -> Callable[[], None]:
    """Start forwarding the kernel's piped stdout and stderr, masked, to ``write``.

    Returns a function that waits (a bounded time) for what is left once the kernel stopped.
    """
    process = getattr(getattr(manager, "provisioner", None), "process", None)
    streams = [getattr(process, name, None) for name in ("stdout", "stderr")]
    threads = [
        threading.Thread(target=_pump, args=(stream, masker, write), daemon=True)
        for stream in streams
        if stream is not None
    ]
    for thread in threads:
        thread.start()

    def drain() -> None:
        for thread in threads:
            thread.join(DRAIN_SECONDS)

    return drain


def _pump(stream: IO[bytes], masker: SecretMasker, write: Callable[[str], object]) -> None:
    with contextlib.suppress(OSError, ValueError), stream:
        for line in iter(stream.readline, b""):
            write(masker.mask(line.decode("utf-8", errors="replace")))
