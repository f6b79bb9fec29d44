"""Wakes this process's `GET /orders/{id}?wait=` requests when a saga's outcome is recorded here.

The saga's last activity writes the outcome to the order record, and the
activity usually runs in the same process as the request waiting for it, so
the wait ends the moment the record turns final. daprd's own "wait for
completion" answers about a second late (its status stream retries after 1 s),
and costs a gRPC stream per waiting request.

The activity may also run in another replica, or the signal may be missed
across a restart: waiters re-read the record every `poll` seconds as well.
The SDK runs activities on an event loop of its own, in its worker thread, so
`recorded` may be called from any thread.
"""

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class OutcomeSignals:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[int, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    @contextmanager
    def watch(self, order_id: int) -> Iterator[asyncio.Event]:
        """An event set once `recorded(order_id)` is called, while the block lasts."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiting.setdefault(order_id, []).append(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                entries = self._waiting.get(order_id, [])
                entries.remove(entry)
                if not entries:
                    del self._waiting[order_id]

    def recorded(self, order_id: int) -> None:
        """The order's outcome is in its record: wake whoever waits for it."""
        with self._lock:
            entries = list(self._waiting.get(order_id, ()))
        for loop, event in entries:
            loop.call_soon_threadsafe(event.set)

    def waiting(self) -> int:
        """How many requests wait (for tests and diagnostics)."""
        with self._lock:
            return sum(len(entries) for entries in self._waiting.values())
