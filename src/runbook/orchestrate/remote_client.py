"""The CLI's client of a Runbook server: HTTP with httpx, the server's errors raised again.

Every error the service answers with has one JSON shape whose ``kind`` names the
RunbookError class (:mod:`runbook.api.errors`); :func:`error_from_body` builds that class
again, found in :data:`runbook.outcomes.ERROR_STATUSES`, so that the CLI prints the same one
line and exits with the same code as when it works on the store itself. Kinds the table
does not know (validation, a missing route, an internal error) become a UsageError or a
FailureError as their exit code says. The token is sent as a bearer token and never shown.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from runbook.errors import FailureError, PolicyError, RunbookError, RunRefusedError, UsageError
from runbook.outcomes import ERROR_STATUSES, EXIT_USAGE

#: Seconds to wait for an answer; an event stream waits as long as the run does.
TIMEOUT = 60.0


def _rebuilt(cls: type[RunbookError], message: str) -> RunbookError:
    # The classes' own constructors take what raised them (a path, a cause…); the server
    # sent only the message, which is all the CLI prints.
    error = cls.__new__(cls)
    RunbookError.__init__(error, message)
    if isinstance(error, RunRefusedError):
        error.cause = _rebuilt(PolicyError, message)  # type: ignore[assignment]
    return error


def error_from_body(status: int, body: object) -> RunbookError:
    """The RunbookError an error response of the service stands for."""
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict):
        return FailureError(f"the server answered HTTP {status} without an error")
    message = str(detail.get("message") or f"HTTP {status}")
    kind = str(detail.get("kind") or "")
    for cls, _ in ERROR_STATUSES:
        if cls.__name__ == kind:
            return _rebuilt(cls, message)
    return UsageError(message) if detail.get("code") == EXIT_USAGE else FailureError(message)


@dataclass
class RemoteClient:
    """A server's base URL and the caller's token."""

    url: str
    token: str

    def _client(self, timeout: float | None = TIMEOUT) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=httpx.Timeout(TIMEOUT, read=timeout),
        )

    def request(
        self, method: str, path: str, body: object = None, params: dict[str, Any] | None = None
    ) -> Any:
        """Call ``path`` and return its JSON; a creating call gets an Idempotency-Key, so
        that a retry creates nothing twice."""
        headers = {"Idempotency-Key": secrets.token_hex(16)} if method == "POST" else {}
        try:
            with self._client() as client:
                answer = client.request(method, path, json=body, params=params, headers=headers)
        except httpx.HTTPError as error:
            raise FailureError(f"{self.url}: cannot reach the server: {error}") from None
        return _json_of(answer)

    def get(self, path: str, **params: Any) -> Any:
        """GET ``path`` with query ``params``."""
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: object = None) -> Any:
        """POST ``body`` to ``path``."""
        return self.request("POST", path, body if body is not None else {})

    def events(self, run_id: str, after: int = 0) -> Iterator[dict[str, Any]]:
        """The run's events from after ``after`` to its end; a dropped stream is resumed
        with ``Last-Event-ID`` (the last event's sequence number)."""
        last = after
        while True:
            try:
                with (
                    self._client(timeout=None) as client,
                    client.stream(
                        "GET", f"/runs/{run_id}/events", headers={"Last-Event-ID": str(last)}
                    ) as answer,
                ):
                    if answer.status_code >= 400:
                        answer.read()
                        _json_of(answer)
                    for event in _server_sent(answer.iter_lines()):
                        last = int(event.get("seq") or last)
                        yield event
                        if event.get("kind") == "run.finished":
                            return
                return  # the server ended the stream: the run has ended
            except (httpx.RemoteProtocolError, httpx.ReadError):
                continue  # dropped mid-stream: resume after the last event seen
            except httpx.HTTPError as error:
                raise FailureError(f"{self.url}: cannot reach the server: {error}") from None


def _json_of(answer: httpx.Response) -> Any:
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.status_code >= 400:
        raise error_from_body(answer.status_code, body)
    return body


def _server_sent(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    data: list[str] = []
    for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:
            yield json.loads("\n".join(data))
            data = []
