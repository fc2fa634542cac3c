"""The failed-authentication throttle: per address, within a sliding window."""

from __future__ import annotations

import pytest

from runbook.errors import TooManyFailuresError
from runbook.orchestrate.auth_throttle import MAX_ADDRESSES, FailureThrottle


def test_failures_leave_the_window_and_addresses_are_apart() -> None:
    now = [0.0]
    throttle = FailureThrottle(limit=2, window=10, clock=lambda: now[0])
    throttle.failed("a")
    now[0] = 4
    throttle.failed("a")
    with pytest.raises(TooManyFailuresError) as refused:
        throttle.check("a")
    assert refused.value.retry_after == 6  # until the first failure is 10 s old
    throttle.check("b")
    throttle.check(None)
    now[0] = 10.5  # the first failure left the window
    throttle.check("a")
    throttle.failed("a")
    with pytest.raises(TooManyFailuresError):
        throttle.check("a")


def test_no_limit_and_a_bounded_memory() -> None:
    off = FailureThrottle(limit=0)
    for _ in range(100):
        off.failed("a")
    off.check("a")
    many = FailureThrottle(limit=1)
    for n in range(MAX_ADDRESSES + 5):
        many.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(many._failures) == MAX_ADDRESSES
