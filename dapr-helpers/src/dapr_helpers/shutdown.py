"""Graceful shutdown: once the process is told to stop, it takes no new work and holds nothing long.

On SIGTERM uvicorn stops accepting connections, closes idle keep-alive ones, waits
for the responses in flight (at most `--timeout-graceful-shutdown` seconds, then it
cancels them), and only then runs the lifespan shutdown. Two gaps remain:

- a request that still arrives (on a keep-alive connection before uvicorn gets to
  close it: its main loop looks every 0.1 s) would start new work on a process
  that is going. It gets 503 with `Retry-After` and a problem body at once, and
  `Connection: close`. A pub/sub delivery from the sidecar refused so is
  redelivered: Dapr retries any status but 2xx and 404;
- a response that waits (a long-poll, an event stream) would hold the shutdown
  for as long as it waits. `Shutdown.event` is set the moment the signal arrives,
  so such a response can end at once.

`Shutdown` learns of the signal by chaining a handler in front of uvicorn's (for
SIGINT and SIGTERM), which then runs as before. And since a client should meet a
503 only with a time to try again, the middleware also gives any other 503 of the
app (a sidecar or store away) a `Retry-After` when it has none.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import FrameType
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SIGNALS = (signal.SIGINT, signal.SIGTERM)
RETRY_AFTER_SECONDS = 1  # as long as another replica (or this one, restarted) takes to answer
PROBLEM_JSON = "application/problem+json"


class Shutdown:
    """Set once the process is told to stop (or `set()` by hand: tests, the app's lifespan)."""

    def __init__(self) -> None:
        self._stopping = False
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._armed = False

    @property
    def stopping(self) -> bool:
        """Readable from any thread, and true from the moment `set()` is called."""
        return self._stopping

    @property
    def event(self) -> asyncio.Event:
        """An event of the running loop, set on shutdown; the first use arms the signal handlers."""
        loop = asyncio.get_running_loop()
        if self._event is None or self._loop is not loop:
            self._event, self._loop = asyncio.Event(), loop  # a test may serve the app on a new loop
            if self._stopping:
                self._event.set()
        self._arm()
        return self._event

    def start(self) -> None:
        """Serving (again): the lifespan's startup, on the serving loop."""
        self._stopping = False
        self._event = None
        _ = self.event

    def set(self) -> None:
        self._stopping = True
        event, loop = self._event, self._loop
        if event is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    def _arm(self) -> None:
        # Signal handlers can only be set from the main thread (uvicorn's loop runs there;
        # a TestClient's does not: there `set()` is called by hand or by the lifespan).
        if self._armed or threading.current_thread() is not threading.main_thread():
            return
        self._armed = True
        for sig in SIGNALS:
            previous = signal.getsignal(sig)

            def handler(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
                self.set()
                if callable(previous):
                    previous(signum, frame)
                elif previous == signal.SIG_DFL:
                    signal.signal(signum, signal.SIG_DFL)
                    signal.raise_signal(signum)

            signal.signal(sig, handler)


def shutting_down_response(path: str, retry_after: int = RETRY_AFTER_SECONDS) -> JSONResponse:
    """503, a problem body (titled by its status, as the order API's are) and `Retry-After`."""
    body = {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "code": "shutting_down",
        "detail": f"this instance is shutting down; try again in {retry_after} s",
        "instance": path,
    }
    headers = {"Retry-After": str(retry_after), "Connection": "close"}
    return JSONResponse(body, status_code=503, headers=headers, media_type=PROBLEM_JSON)


class RefuseWhileStopping:
    """ASGI middleware: once `shutdown` is set, every HTTP request gets `shutting_down_response`.

    Before that, any 503 the app answers (its sidecar or a store away) gets `Retry-After`
    too, if it has none: a client meets a 503 only with a time to try again.
    """

    def __init__(self, app: ASGIApp, shutdown: Shutdown, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        self.app = app
        self.shutdown = shutdown
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.shutdown.stopping:
            await shutting_down_response(scope["path"], self.retry_after)(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_retry_after(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"retry-after" for name, _ in headers):
                    headers.append((b"retry-after", str(self.retry_after).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_retry_after)


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def watching(shutdown: Shutdown, lifespan: Lifespan) -> Lifespan:
    """`lifespan`, its startup arming `shutdown`'s watch and its shutdown setting it (for a
    stop without a signal: a TestClient closing, an embedding server)."""

    @asynccontextmanager
    async def watch(app: FastAPI) -> AsyncIterator[None]:
        shutdown.start()
        async with lifespan(app):
            try:
                yield
            finally:
                shutdown.set()

    return watch


def refuse_while_stopping(app: FastAPI, shutdown: Shutdown) -> None:
    """`shutdown` on `app.state.shutdown`, and every request refused once it is set."""
    app.state.shutdown = shutdown
    app.add_middleware(RefuseWhileStopping, shutdown=shutdown)


async def wait_or_stop(event: asyncio.Event, shutdown: Shutdown, seconds: float) -> None:
    """Until `event` is set, the process is told to stop, or `seconds` pass."""
    stopping = shutdown.event
    if event.is_set() or stopping.is_set():
        return
    waits = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(stopping.wait())]
    try:
        await asyncio.wait(waits, timeout=max(seconds, 0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
