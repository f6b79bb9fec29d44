"""Graceful shutdown (dapr_helpers.shutdown): refused requests, ended waits, and a real SIGTERM."""

import asyncio
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from dapr_helpers.service import service_app
from dapr_helpers.shutdown import Shutdown, wait_or_stop
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from saga_testkit.servers import serving


def _app() -> FastAPI:
    app = service_app("thing", "A test service.")

    @app.get("/thing/wait")
    async def wait(request: Request) -> dict[str, bool]:
        """Waits for an event nobody sets: only the shutdown ends it."""
        shutdown: Shutdown = request.app.state.shutdown
        await wait_or_stop(asyncio.Event(), shutdown, 30)
        return {"stopping": shutdown.stopping}

    return app


def test_requests_are_served_until_shutdown_then_refused_with_retry_after() -> None:
    app = _app()
    with TestClient(app) as http:
        assert http.get("/healthz").status_code == 200
        app.state.shutdown.set()

        for path in ("/healthz", "/thing/openapi.json", "/dapr/subscribe", "/anything"):
            r = http.get(path)
            assert r.status_code == 503, path
            assert r.headers["Retry-After"] == "1"
            assert r.headers["Connection"] == "close"  # not reused for another request
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json() == {
                "type": "about:blank",
                "title": "Service Unavailable",
                "status": 503,
                "code": "shutting_down",
                "detail": "this instance is shutting down; try again in 1 s",
                "instance": path,
            }


def test_any_503_gets_a_retry_after_and_one_it_has_is_kept() -> None:
    app = _app()

    @app.get("/thing/unavailable")
    async def unavailable(keep: bool = False) -> JSONResponse:
        return JSONResponse({}, status_code=503, headers={"Retry-After": "7"} if keep else None)

    with TestClient(app) as http:
        assert http.get("/thing/unavailable").headers["Retry-After"] == "1"
        assert http.get("/thing/unavailable", params={"keep": True}).headers.get_list("Retry-After") == ["7"]
        assert "Retry-After" not in http.get("/healthz").headers


def test_a_wait_in_flight_ends_when_shutdown_begins() -> None:
    app = _app()
    with TestClient(app) as http, ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(http.get, "/thing/wait")
        time.sleep(0.3)  # the request is in its wait by now (if not, it sees `stopping` at once)
        started = time.monotonic()
        app.state.shutdown.set()
        r = waiting.result(timeout=10)  # the wait itself is 30 s
    assert (r.status_code, r.json()) == (200, {"stopping": True})
    assert time.monotonic() - started < 5


def test_the_lifespan_sets_it_on_the_way_out_and_clears_it_on_a_new_start() -> None:
    app = _app()
    with TestClient(app) as http:
        assert not app.state.shutdown.stopping
    assert app.state.shutdown.stopping
    with TestClient(app) as http:  # served again (a test reusing the app): it serves
        assert http.get("/healthz").status_code == 200


async def test_wait_or_stop_returns_on_its_event_or_its_deadline() -> None:
    shutdown, event = Shutdown(), asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await wait_or_stop(event, shutdown, 0.05)
    assert 0.04 <= loop.time() - started < 1
    loop.call_later(0.05, event.set)
    await wait_or_stop(event, shutdown, 30)
    assert loop.time() - started < 5


SERVE = """
import asyncio, sys, uvicorn
from fastapi import Request
from dapr_helpers.service import service_app
from dapr_helpers.shutdown import wait_or_stop

app = service_app("thing", "A test service.")

@app.get("/thing/wait")
async def wait(request: Request):
    await wait_or_stop(asyncio.Event(), request.app.state.shutdown, 30)
    return {"ended": True}

uvicorn.run(app, port=int(sys.argv[1]), log_level="warning", timeout_graceful_shutdown=5)
"""


def test_sigterm_ends_a_long_wait_and_the_process_at_once() -> None:
    """Under uvicorn: the signal reaches the chained handler, the wait answers, uvicorn exits."""
    with serving(SERVE, "/healthz") as (base, server), ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(httpx.get, f"{base}/thing/wait", timeout=20)
        time.sleep(0.5)
        stopped_at = time.monotonic()
        server.send_signal(signal.SIGTERM)
        r = waiting.result()
        assert (r.status_code, r.json()) == (200, {"ended": True})
        assert server.wait(timeout=10) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it caught
        assert time.monotonic() - stopped_at < 3
