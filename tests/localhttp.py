"""A JSON HTTP server on 127.0.0.1 for tests of things that fetch (sensors, inventories)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class JsonHandler(http.server.BaseHTTPRequestHandler):
    """Answers GETs through :meth:`answer`; subclasses say what each path returns."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        status, payload = self.answer(self.path.split("?", 1)[0])
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def answer(self, path: str) -> tuple[int, Any]:
        """(status, JSON payload or raw bytes) for a GET of ``path``."""
        return 404, {"msg": "not found"}

    def bearer(self) -> str | None:
        """The bearer token of the request, if any."""
        value = self.headers.get("Authorization", "")
        return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


@contextmanager
def serving(handler: type[JsonHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free port of 127.0.0.1; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
