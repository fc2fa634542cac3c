"""Signed-in browsers: a random session id in a cookie, what it stands for kept server-side.

The cookie carries only a random id (HttpOnly, SameSite=Strict, Secure on https); the
server keeps, under the id's SHA-256, the API token the user signed in with and the
session's CSRF token. Every request authenticates that token again through the core, so
a revoked or expired token ends the session at once. Sessions live in the serving
process: a user behind a load balancer without affinity signs in on each server.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Final

#: The session cookie (``__Host-`` on https: no Domain, Path=/, Secure enforced by browsers).
SESSION_COOKIE: Final = "runbook_session"
SECURE_SESSION_COOKIE: Final = "__Host-runbook_session"
#: A signed-out browser's CSRF token (double submit: the form echoes the cookie).
CSRF_COOKIE: Final = "runbook_csrf"
SECURE_CSRF_COOKIE: Final = "__Host-runbook_csrf"
#: How long a session lasts from sign-in, whatever the token's own expiry (seconds).
LIFETIME: Final = 12 * 3600.0


@dataclass(frozen=True)
class WebSession:
    """What a session id stands for: the token signed in with, the CSRF token, the end."""

    secret: str
    csrf: str
    expires: float


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A random token for a cookie or a form (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def same_token(given: str | None, expected: str | None) -> bool:
    """Whether ``given`` is ``expected``, compared in constant time (never when either is
    missing or empty)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class WebSessions:
    """The signed-in sessions of this process."""

    def __init__(self, lifetime: float = LIFETIME) -> None:
        self._lifetime = lifetime
        self._by_digest: dict[str, WebSession] = {}
        self._lock = threading.Lock()

    def open(self, secret: str) -> tuple[str, WebSession]:
        """A new session for the API token ``secret``: its id (for the cookie) and itself."""
        session_id = new_token()
        made = WebSession(secret, new_token(), time.monotonic() + self._lifetime)
        with self._lock:
            self._drop_expired()
            self._by_digest[_digest(session_id)] = made
        return session_id, made

    def get(self, session_id: str | None) -> WebSession | None:
        """The live session of ``session_id``; None when unknown, closed or expired."""
        if not session_id:
            return None
        with self._lock:
            found = self._by_digest.get(_digest(session_id))
            if found is not None and found.expires <= time.monotonic():
                del self._by_digest[_digest(session_id)]
                return None
            return found

    def close(self, session_id: str | None) -> None:
        """End the session of ``session_id`` (nothing when there is none)."""
        if session_id:
            with self._lock:
                self._by_digest.pop(_digest(session_id), None)

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for key in [k for k, s in self._by_digest.items() if s.expires <= now]:
            del self._by_digest[key]
