"""The participant of `bench.engine_cost`'s `floor` shape: as little as a Dapr app can be.

Each command invoked on it is written to its own state store through its sidecar, as a
participant writes its unit of work, and answered with 200. A raw ASGI app under uvicorn
(uvloop, httptools), with no framework, so that what it costs is Dapr's part and Python's
least: the floor under the real participants.

    python -m uvicorn bench.engine_peer:app --port N --loop uvloop --http httptools
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx

STORE = "peerstore"
_client: httpx.AsyncClient | None = None


def _sidecar() -> httpx.AsyncClient:
    global _client
    if _client is None:
        _client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{os.environ['DAPR_HTTP_PORT']}", timeout=10)
    return _client


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":  # lifespan: nothing to set up
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    status, answer = 404, b"{}"  # daprd's GETs (/dapr/config, /dapr/subscribe): nothing here
    if scope["method"] == "POST":
        status, answer = 200, b'{"ok": true}'
        command = json.loads(await _body(receive) or b"{}")
        key = f"{command.get('order', '')}-{scope['path'].rsplit('/', 1)[-1]}"
        reply = await _sidecar().post(f"/v1.0/state/{STORE}", json=[{"key": key, "value": command}])
        if reply.status_code >= 300:
            status, answer = 500, reply.content
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": answer})
