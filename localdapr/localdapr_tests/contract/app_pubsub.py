"""Subscriber routes for the pub/sub contract tests.

Every message carries its own test script in its data, so behaviour needs no
shared state with the tests: `{"k": "<marker>", "script": ["RETRY", 500, "SUCCESS"]}`
answers attempt n with `script[min(n, len - 1)]`. A reply is a status for
`{"status": ...}` with HTTP 200, an int for a bare HTTP status, `"EMPTY"` for 200
with no body, `"TEXT"` for 200 with a non-JSON body, `"{}"` for an empty object.

What arrived is recorded as `{topic}:{marker}` (the recorded item is the
CloudEvent plus the request headers). The `ps-durable` topic can be held in
flight: while mode is `block` its handler parks the request (kill -9 tests).
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections import defaultdict
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

PUBSUB = "pubsub"

_lock = threading.Lock()
_attempts: dict[str, int] = defaultdict(int)
_mode = {"ps-durable": "accept"}


def marker(event: Any) -> str:
    """The test's marker: data["k"], a text payload, or the decoded binary payload."""
    if not isinstance(event, dict):
        return repr(event)
    data = event.get("data")
    if isinstance(data, dict) and "k" in data:
        return str(data["k"])
    if isinstance(data, str):
        return data
    if isinstance(event.get("data_base64"), str):
        return base64.b64decode(event["data_base64"]).decode("utf-8", "replace")
    if "k" in event:  # a raw payload delivered as-is
        return str(event["k"])
    return str(event.get("id"))


def reply(step: Any) -> Response:
    if isinstance(step, int):
        return Response(status_code=step, content=b"scripted failure")
    if step == "EMPTY":
        return Response(status_code=200)
    if step == "TEXT":
        return Response(status_code=200, content=b"ok", media_type="text/plain")
    if step == "{}":
        return JSONResponse({})
    return JSONResponse({"status": step})


async def _record(recorder: Any, topic: str, request: Request) -> tuple[dict[str, Any], str]:
    event = await request.json()
    key = marker(event)
    recorder.add(f"{topic}:{key}", {"event": event, "headers": dict(request.headers)})
    return event, key


def register(main: FastAPI, peer: FastAPI, dapr_app: Any, recorder: Any) -> None:
    def recording(topic: str, dead_letter_topic: str | None = None) -> None:
        @dapr_app.subscribe(pubsub=PUBSUB, topic=topic, dead_letter_topic=dead_letter_topic)
        async def handler(request: Request) -> Response:
            await _record(recorder, topic, request)
            return JSONResponse({"status": "SUCCESS"})

    def scripted(topic: str, dead_letter_topic: str | None = None) -> None:
        @dapr_app.subscribe(pubsub=PUBSUB, topic=topic, dead_letter_topic=dead_letter_topic)
        async def handler(request: Request) -> Response:
            event, key = await _record(recorder, topic, request)
            data = event.get("data") if isinstance(event.get("data"), dict) else {}
            script = data.get("script") or ["SUCCESS"]  # type: ignore[union-attr]
            with _lock:
                n = _attempts[f"{topic}:{key}"]
                _attempts[f"{topic}:{key}"] = n + 1
            return reply(script[min(n, len(script) - 1)])

    recording("ps-envelope")
    recording("ps-fanout")
    scripted("ps-script")
    scripted("ps-script-dl", dead_letter_topic="ps-script-dl-dead")
    recording("ps-script-dl-dead")

    @dapr_app.subscribe(pubsub=PUBSUB, topic="ps-durable")
    async def durable(request: Request) -> Response:
        event = await request.json()
        key = marker(event)
        if _mode["ps-durable"] == "block":
            recorder.add(f"ps-durable-blocked:{key}", event)
            recorder.add("ps-durable-blocked", key)
            while _mode["ps-durable"] == "block":  # noqa: ASYNC110 - set from another thread's loop
                await asyncio.sleep(0.02)  # parked in flight until the test lets go
            return Response(status_code=500)  # the sidecar that sent this is gone by now
        recorder.add("ps-durable", key)
        return JSONResponse({"status": "SUCCESS"})

    @dapr_app.subscribe(pubsub=PUBSUB, topic="ps-raw", metadata={"rawPayload": "true"})
    async def raw(request: Request) -> Response:
        await _record(recorder, "ps-raw", request)
        return JSONResponse({"status": "SUCCESS"})

    @dapr_app.subscribe(pubsub=PUBSUB, topic="ps-bench")
    async def bench(request: Request) -> Response:
        recorder.add("ps-bench", marker(await request.json()))
        return JSONResponse({"status": "SUCCESS"})

    @main.post("/pubsub-test/mode/{topic}/{mode}")
    async def set_mode(topic: str, mode: str) -> dict[str, str]:
        _mode[topic] = mode
        return _mode

    # The peer subscribes declaratively (resources/subscription-pubsub.yaml).
    @peer.post("/pubsub/fanout")
    async def peer_fanout(request: Request) -> Response:
        await _record(recorder, "peer:ps-fanout", request)
        return JSONResponse({"status": "SUCCESS"})
