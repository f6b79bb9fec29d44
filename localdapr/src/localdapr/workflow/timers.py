"""Durable timers: inbox rows with a future `fire_at`, armed on the event loop.

The database is the truth (timers are reloaded and re-armed at start); this
only holds the loop's handles so a timer can be cancelled when its instance
ends. Timers at or beyond the SDK's 9999-12-31 sentinel are kept but never armed.
Keyed by inbox row, or (retention purges) by instance id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

from .wire import NEVER_FIRE_AFTER

K = TypeVar("K", bound=Hashable)


class Timers(Generic[K]):
    def __init__(self) -> None:
        self._handles: dict[K, asyncio.TimerHandle] = {}

    def arm(self, row: K, fire_at: float, fire: Callable[[K], None]) -> None:
        """Call `fire(row)` at `fire_at` (wall clock), unless it is the never-firing sentinel."""
        if fire_at >= NEVER_FIRE_AFTER:
            return
        self.cancel([row])
        loop = asyncio.get_running_loop()
        self._handles[row] = loop.call_later(max(0.0, fire_at - time.time()), self._fire, row, fire_at, fire)

    def _fire(self, row: K, fire_at: float, fire: Callable[[K], None]) -> None:
        if (early := fire_at - time.time()) > 0:
            # uvloop's timers have millisecond resolution and may wake a little early;
            # a timer never fires before its time.
            self._handles[row] = asyncio.get_running_loop().call_later(early, self._fire, row, fire_at, fire)
            return
        self._handles.pop(row, None)
        fire(row)

    def cancel(self, rows: Iterable[K]) -> None:
        for row in rows:
            handle = self._handles.pop(row, None)
            if handle is not None:
                handle.cancel()

    def cancel_all(self) -> None:
        self.cancel(list(self._handles))
