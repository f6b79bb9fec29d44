"""Work-item queue of one app, and the `GetWorkItems` streams that drain it.

Every connected worker stream takes items from one shared queue, so each item
goes to exactly one worker. An item handed to a stream stays owned by that
stream until its completion arrives; if the stream ends first (worker killed,
connection lost), the item goes back to the front of the queue for the next
stream, as durabletask-go's executor cancels a dead stream's pending work and
the workflow actor runs it again. There is no other re-dispatch: daprd sends
no completion token (completions are matched by instance id and task id), so
a second copy of a live item could have its late answer taken for a newer one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("localdapr.workflow")


@dataclass(eq=False)
class WorkItem:
    payload: bytes | None  # the serialized WorkItem; None until `render` builds it
    label: str
    # Builds the payload when the item is first handed out (a turn's WorkflowStarted
    # must carry the time it is dispatched, not the time it was queued).
    render: Callable[[], bytes] | None = None
    stream: Stream | None = None
    done: bool = False  # completed, or no longer wanted (instance ended)

    def finish(self) -> None:
        self.done = True
        if self.stream is not None:
            self.stream.outstanding.discard(self)
            self.stream = None


@dataclass(eq=False)
class Stream:
    id: int
    outstanding: set[WorkItem] = field(default_factory=set)


class Dispatcher:
    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self._ready: deque[WorkItem] = deque()
        self._takers: deque[asyncio.Future[WorkItem]] = deque()
        self._ids = itertools.count(1)
        self.streams: dict[int, Stream] = {}
        self.on_stream_open: Callable[[], None] | None = None
        # Set while a worker stream is open: daprd registers the workflow actor types only then.
        self.connected = asyncio.Event()

    def push(self, item: WorkItem, front: bool = False) -> None:
        if item.done:
            return
        while self._takers:
            taker = self._takers.popleft()
            if not taker.done():
                taker.set_result(item)
                return
        if front:
            self._ready.appendleft(item)
        else:
            self._ready.append(item)

    async def _take(self) -> WorkItem:
        while self._ready:
            item = self._ready.popleft()
            if not item.done:
                return item
        taker: asyncio.Future[WorkItem] = asyncio.get_running_loop().create_future()
        self._takers.append(taker)
        try:
            return await taker
        except asyncio.CancelledError:
            if taker.done() and not taker.cancelled():
                self.push(taker.result(), front=True)  # handed over just as the stream ended
            raise

    async def serve(self, write: Callable[[bytes], Awaitable[object]]) -> None:
        """Feed one `GetWorkItems` stream until it ends; then requeue what it owned."""
        stream = Stream(next(self._ids))
        self.streams[stream.id] = stream
        self.connected.set()
        log.info("workflow worker connected to %s (stream %d)", self.app_id, stream.id)
        if self.on_stream_open:
            self.on_stream_open()
        try:
            while True:
                item = await self._take()
                if item.done:
                    continue
                if item.payload is None:
                    assert item.render is not None
                    item.payload = item.render()
                item.stream = stream
                stream.outstanding.add(item)
                await write(item.payload)
        finally:
            del self.streams[stream.id]
            if not self.streams:
                self.connected.clear()
            lost = [i for i in stream.outstanding if not i.done]
            stream.outstanding.clear()
            for item in lost:
                item.stream = None
                self.push(item, front=True)
            log.info(
                "workflow worker stream %d of %s ended; %d work item(s) re-queued",
                stream.id,
                self.app_id,
                len(lost),
            )

    def close(self) -> None:
        for taker in self._takers:
            taker.cancel()
        self._takers.clear()
