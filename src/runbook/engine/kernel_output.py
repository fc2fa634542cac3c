"""What a kernel process writes to its own stdout/stderr, masked before anyone sees it.

A cell's child processes (``os.system``, ``subprocess.run`` without capture) write straight
to the kernel's file descriptors, not through the kernel's messages, so the client never
masks it. The kernel is launched with both piped (``launch.async_launch_kernel``); this
module reads them line by line, masks each line with the run's masker and forwards it.

One thing the kernel writes is not the runbook's: ipykernel 7's ``OutStream.flush`` can race
its IOPub thread's close while the kernel shuts down, and tornado logs the resulting
``ZMQError`` (ENOTSOCK) as an uncaught traceback after a run that succeeded. Upstream fixed the
send path (ipykernel#1518) but not the scheduling one, so that one traceback is dropped here;
any other traceback, and a block cut off before its last line, is forwarded as written.
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
    noise = ShutdownNoiseFilter(lambda line: write(masker.mask(line)))
    with contextlib.suppress(OSError, ValueError), stream:
        for line in iter(stream.readline, b""):
            noise.feed(line.decode("utf-8", errors="replace"))
    noise.close()


#: How pyzmq's stream logs (through tornado) an exception no callback caught; it spells
#: ``ZMQStream`` two ways.
_UNCAUGHT_HEADER: Final = "uncaught exception in zmqstream callback"
#: The last line of the shutdown race's traceback (pyzmq words ENOTSOCK either way).
_SHUTDOWN_RACE_ERRORS: Final = (
    "zmq.error.ZMQError: Socket operation on non-socket",
    "zmq.error.ZMQError: not a socket",
)


class ShutdownNoiseFilter:
    """Forwards lines, holding back a tornado uncaught-callback traceback until its last line.

    The held block is dropped when it ends in the shutdown race's ``ZMQError`` and forwarded
    unchanged otherwise.
    """

    def __init__(self, forward: Callable[[str], object]) -> None:
        self._forward = forward
        self._held: list[str] = []

    def feed(self, line: str) -> None:
        """Take one line (with its newline, if it had one) of the kernel's output."""
        if not self._held:
            if line.rstrip().lower().endswith(_UNCAUGHT_HEADER):
                self._held.append(line)
            else:
                self._forward(line)
            return
        self._held.append(line)
        if line.startswith(("Traceback (most recent call last):", " ")):
            return
        block, self._held = self._held, []
        if line.rstrip() not in _SHUTDOWN_RACE_ERRORS:
            for held in block:
                self._forward(held)

    def close(self) -> None:
        """Forward a block the stream ended in the middle of: it was not the race's."""
        block, self._held = self._held, []
        for held in block:
            self._forward(held)
