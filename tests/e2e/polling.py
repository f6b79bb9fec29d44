"""Waiting for a condition of a running system, with a deadline: never a blind sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T | None], what: str, timeout: float = 30, interval: float = 0.2) -> T:
    """Call `check` until it returns something true, and return that; after `timeout`
    seconds, fail the test, naming `what` it waited for."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)
    return result
