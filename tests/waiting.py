"""Waiting in tests: on a condition with a deadline, never a fixed sleep as the synchronisation."""
from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], timeout: float = 60.0, what: str = "condition",
               interval: float = 0.02) -> None:
    """Return as soon as `condition()` is true; fail after `timeout` seconds. The short `interval` between two
    looks only bounds the polling cost: nothing waits for a time to pass."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)
