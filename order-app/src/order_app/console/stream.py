"""The console's live stream: server-sent events of the orders that changed, and the totals.

uvicorn waits for open responses to finish before it shuts down, and an event
stream never finishes by itself; the app's lifespan shutdown runs only after
that wait. So the stream watches for the shutdown signal itself: `Shutdown`
(`dapr_helpers.shutdown`, which the order API's long-poll uses too) chains a
handler in front of uvicorn's (for SIGINT and SIGTERM) that ends every stream,
then lets uvicorn's handler run as before.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from dapr_helpers.shutdown import Shutdown as Shutdown  # the stream watches the app's

from order_app.console.projection import ConsoleView
from order_app.console.views import summary


def sse(event: str, data: Any, event_id: int | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {json.dumps(data, separators=(',', ':'))}")
    return "\n".join(lines) + "\n\n"


async def console_events(
    view: ConsoleView,
    stopping: asyncio.Event,
    *,
    interval: float = 1.0,
    keep_alive: float = 15.0,
    snapshot_size: int = 200,
    on_error: Callable[[Exception], None] | None = None,
) -> AsyncIterator[str]:
    """A `snapshot` (the newest orders and the totals), then `order`, `gone` and `totals` events.

    The view is refreshed at most once an `interval` however many streams are open.
    A reconnecting EventSource simply gets a new snapshot.
    """
    yield f"retry: {int(interval * 2000)}\n\n"  # the browser's reconnection delay
    try:
        await view.refresh(max_age=interval / 2)
    except Exception as err:  # no snapshot to give: end, and the browser reconnects after `retry`
        if on_error is not None:
            on_error(err)
        return
    seen = view.sequence
    totals = view.totals
    orders = [summary(o) for o in view.recent(limit=snapshot_size)]
    yield sse("snapshot", {"orders": orders, "totals": totals.as_json()}, seen)
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval)
        if stopping.is_set():
            break
        try:
            await view.refresh(max_age=interval / 2)
        except Exception as err:  # the sidecar away for a moment: keep the stream, try again
            if on_error is not None:
                on_error(err)
        changed, gone = view.changed_since(seen)
        seen = view.sequence
        out = [sse("order", summary(o), seen) for o in changed] + [sse("gone", {"id": i}, seen) for i in gone]
        if view.totals != totals:
            totals = view.totals
            out.append(sse("totals", totals.as_json(), seen))
        if out:
            yield "".join(out)
            quiet_since = loop.time()
        elif loop.time() - quiet_since >= keep_alive:
            yield ": keep-alive\n\n"  # proxies close idle connections; a dead client shows on write
            quiet_since = loop.time()
