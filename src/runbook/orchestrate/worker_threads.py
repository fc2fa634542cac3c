"""Running blocking work in a pool thread without leaking the event loop it leaves behind.

jupyter_client's blocking calls create one event loop per thread and leave it open; a pool
thread outlives the task or step it ran, so its loop (and the sockets on it) is closed here.
Workflow tasks and playbook runbook steps both run this way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def in_worker_thread(work: Callable[[], T]) -> T:
    """Run ``work`` (in a pool thread), then close the event loop it left open there."""
    try:
        return work()
    finally:
        try:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            loop = None
        if loop is not None and not loop.is_running():
            loop.close()
            asyncio.set_event_loop(None)
