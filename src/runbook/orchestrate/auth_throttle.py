"""Failed authentications, counted per address: past a limit, that address is refused unchecked.

Guessing a token online is already hopeless (256 random bits), but an address that keeps
presenting bad credentials is either broken or probing, and each try costs a store lookup
or an issuer's signature check. So the service counts, per peer address, the requests whose
credentials proved nobody; past ``limit`` of them within ``window`` seconds, that address's
requests are refused with a 429 and ``Retry-After`` until the oldest failure leaves the
window, without looking at what they carry. Requests with no credentials at all (a browser
before sign-in) are not failures. The count is per server process, in memory: a restart
forgets it, which costs an attacker a restart they cannot cause.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from runbook.errors import CredentialsError, TooManyFailuresError
from runbook.model.roles import Principal
from runbook.orchestrate.authentication import Authenticator, Credentials

#: Failed authentications one address may make within the window (``[service]
#: failed_auth_limit``).
DEFAULT_LIMIT: Final = 20
#: The window, in seconds.
DEFAULT_WINDOW: Final = 60.0
#: Addresses tracked at most; the stalest are forgotten first (a flood of spoofed-looking
#: addresses cannot grow the server's memory without bound).
MAX_ADDRESSES: Final = 10_000


class FailureThrottle:
    """Counts failed authentications per address (thread-safe)."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window: float = DEFAULT_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, address: str | None) -> None:
        """TooManyFailuresError when ``address`` failed ``limit`` times within the window
        (never with a ``limit`` of 0: no limit)."""
        if address is None or self.limit == 0:
            return
        with self._lock:
            recent = self._recent(address)
            if recent is None or len(recent) < self.limit:
                return
            wait = recent[0] + self.window - self._clock()
        raise TooManyFailuresError(max(1, math.ceil(wait)))

    def failed(self, address: str | None) -> None:
        """Count one failed authentication from ``address``."""
        if address is None:
            return
        with self._lock:
            recent = self._recent(address)
            if recent is None:
                if len(self._failures) >= MAX_ADDRESSES:
                    del self._failures[next(iter(self._failures))]
                recent = self._failures[address] = deque()
            recent.append(self._clock())

    def _recent(self, address: str) -> deque[float] | None:
        recent = self._failures.get(address)
        if recent is None:
            return None
        horizon = self._clock() - self.window
        while recent and recent[0] <= horizon:
            recent.popleft()
        if not recent:
            del self._failures[address]
            return None
        return recent


def authenticate_throttled(
    authenticator: Authenticator, throttle: FailureThrottle, credentials: Credentials
) -> Principal:
    """The principal ``credentials`` prove, unless their address is throttled; a failure
    counts against the address when credentials were presented (a bearer or the proxy
    header), not when none were."""
    throttle.check(credentials.peer)
    try:
        return authenticator.authenticate(credentials)
    except CredentialsError:
        if credentials.bearer is not None or credentials.proxy_user is not None:
            throttle.failed(credentials.peer)
        raise
