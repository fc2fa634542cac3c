"""``runbook serve --workers N``: N server processes accepting on one listening socket.

The socket is bound here, once, then N processes are forked, each building its own app
(its own store engine, token cache and kernel pool) and serving the shared socket with
uvicorn; the kernel accepts each connection in one of them. Forked, not spawned: nothing
is re-imported, and the app needs no import string. This process only waits: SIGTERM or
SIGINT is passed on to every worker, which finishes its requests and its lifespan.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Callable
from typing import Any


def serve_workers(
    build_app: Callable[[], Any],
    host: str,
    port: int,
    workers: int,
    log_config: dict[str, Any],
) -> None:
    """Serve ``build_app()`` from ``workers`` forked processes on ``host:port``, logging
    as ``log_config`` says (the service's JSON lines)."""
    import logging.config

    logging.config.dictConfig(log_config)  # the loggers, as uvicorn.run would set them
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family, backlog=2048)
    listener.set_inheritable(True)
    bound = listener.getsockname()[1]
    logging.getLogger("uvicorn.error").info(
        "Uvicorn running on http://%s:%d with %d workers (Press CTRL+C to quit)",
        host,
        bound,
        workers,
    )
    children = [_fork_worker(build_app, listener, log_config) for _ in range(workers)]

    def pass_on(signum: int, _frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):  # ended already
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    for pid in children:
        while True:
            try:
                os.waitpid(pid, 0)
                break
            except ChildProcessError:
                break
            except InterruptedError:
                continue
    listener.close()


def _fork_worker(
    build_app: Callable[[], Any], listener: socket.socket, log_config: dict[str, Any]
) -> int:
    import uvicorn

    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        config = uvicorn.Config(
            build_app(), log_config=log_config, access_log=False, server_header=False
        )
        uvicorn.Server(config).run(sockets=[listener])
        status = 0
    finally:
        os._exit(status)  # never back into the parent's click command
