"""Date sources for the available-dates sensor."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from runbook.egress import EgressPolicy
from runbook.errors import ConfigError, EgressError
from runbook.orchestrate.sensors import (
    command_dates,
    flowapi_available_dates,
    glob_dates,
    http_json_dates,
)

TOKEN = "s3cret-token-value"
POLICY = EgressPolicy(allow_private=("127.0.0.1",), timeout=5)
AVAILABLE: dict[str, list[str]] = {
    "calls": ["2016-01-01", "2016-01-02", "2016-01-03"],
    "sms": ["2016-01-02", "2016-01-03", "2016-01-04"],
    "mds": ["2016-01-03"],
}


def d(day: int) -> dt.date:
    """2016-01-<day>."""
    return dt.date(2016, 1, day)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    routes: ClassVar[dict[str, Any]] = {
        "/list": ["2016-01-01", "2016-01-05"],
        "/object": {"dates": ["2016-01-07"], "other": 1},
        "/bad": ["2016-02-30"],
        "/notjson": b"<html>",
    }

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/api/0/available_dates":
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, {"msg": f"bad token {self.headers.get('Authorization')}"})
            else:
                self._send(200, {"available_dates": AVAILABLE})
        elif path in self.routes:
            self._send(200, self.routes[path])
        else:
            self._send(404, {"msg": "not found"})

    def _send(self, status: int, payload: Any) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def base_url() -> Iterator[str]:
    """A FlowAPI-like server on 127.0.0.1, shut down and closed afterwards."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_flowapi_intersects_selected_types(base_url: str) -> None:
    assert flowapi_available_dates(base_url, TOKEN, ["calls"], POLICY) == {d(1), d(2), d(3)}
    assert flowapi_available_dates(base_url + "/", TOKEN, ["calls", "sms"], POLICY) == {
        d(2),
        d(3),
    }
    assert flowapi_available_dates(base_url, TOKEN, None, POLICY) == {d(3)}
    assert flowapi_available_dates(base_url, TOKEN, ["topups"], POLICY) == set()
    assert flowapi_available_dates(base_url, TOKEN, [], POLICY) == set()


def test_flowapi_wrong_token_never_shows_it(base_url: str) -> None:
    with pytest.raises(ConfigError, match="FlowAPI answered 401") as caught:
        flowapi_available_dates(base_url, "wrong-token-value", None, POLICY)
    assert "wrong-token-value" not in str(caught.value)
    assert "available_dates" in caught.value.where


def test_flowapi_refused_by_default_policy(base_url: str) -> None:
    with pytest.raises(EgressError) as caught:
        flowapi_available_dates(base_url, TOKEN, None, EgressPolicy())
    assert TOKEN not in str(caught.value)


def test_http_json_dates(base_url: str) -> None:
    assert http_json_dates(f"{base_url}/list", POLICY) == {d(1), d(5)}
    assert http_json_dates(f"{base_url}/object", POLICY, field="dates") == {d(7)}
    with pytest.raises(ConfigError, match="no field 'missing'"):
        http_json_dates(f"{base_url}/object", POLICY, field="missing")
    with pytest.raises(ConfigError, match="expected a list"):
        http_json_dates(f"{base_url}/object", POLICY)
    with pytest.raises(ConfigError, match=r"/bad: invalid date '2016-02-30'"):
        http_json_dates(f"{base_url}/bad?key=x", POLICY)
    with pytest.raises(ConfigError, match="valid JSON"):
        http_json_dates(f"{base_url}/notjson", POLICY)
    with pytest.raises(ConfigError, match="answered 404"):
        http_json_dates(f"{base_url}/nowhere", POLICY)


def test_glob_dates(tmp_path: Path) -> None:
    for name in ("calls_2016-01-01.csv", "calls_2016-01-03.csv", "readme.csv", "x_2016-01-09.txt"):
        (tmp_path / name).write_text("")
    assert glob_dates(tmp_path, "*.csv") == {d(1), d(3)}
    assert glob_dates(tmp_path, "*.txt", r"\d{4}-\d{2}-\d{2}") == {d(9)}
    (tmp_path / "calls_2016-13-01.csv").write_text("")
    with pytest.raises(ConfigError, match="invalid date '2016-13-01'"):
        glob_dates(tmp_path, "*.csv")


@pytest.mark.parametrize("pattern", ["../*.csv", "/etc/*", "a/../../b"])
def test_glob_refuses_escapes(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(ConfigError, match="relative"):
        glob_dates(tmp_path, pattern)


def test_glob_invalid_regex(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid date regex"):
        glob_dates(tmp_path, "*", "(")


def test_command_dates() -> None:
    assert command_dates([sys.executable, "-c", "print('2016-01-01')"]) == {d(1)}
    script = "print('2016-01-02'); print(); print('  2016-01-03  ')"
    assert command_dates([sys.executable, "-c", script]) == {d(2), d(3)}


def test_command_failures() -> None:
    fail = "import sys; sys.stderr.write('no data here\\nmore\\n'); sys.exit(3)"
    with pytest.raises(ConfigError, match=r"status 3: no data here$"):
        command_dates([sys.executable, "-c", fail])
    with pytest.raises(ConfigError, match="invalid date 'yesterday'"):
        command_dates([sys.executable, "-c", "print('yesterday')"])
    with pytest.raises(ConfigError, match="timed out"):
        command_dates([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.5)
    with pytest.raises(ConfigError, match="not found"):
        command_dates(["/nonexistent/program-xyz"])
    with pytest.raises(ConfigError, match="no command"):
        command_dates([])
