"""What Redis Streams does with a message whose delivery failed, with no Resiliency policy.

components-contrib `pubsub/redis/redis.go` processMessage acknowledges (XACK) a message whose
handler failed, despite its own comment ("Otherwise, it remains in the pending list and will be
redelivered"); only a handler error after its `processingTimeout` context expired leaves it
pending. daprd's subscription handler (`pkg/runtime/subscription/subscription.go`) makes one
attempt without a retry policy and, with no dead-letter topic, returns the error "for backwards
compatibility (component-level retry)", which Redis Streams then drops. What stays pending is
what no handler finished (a sidecar killed mid-delivery: test_pubsub.py's kill -9 test).

daprd contradicts the docs here, and the tests assert what daprd does, on both runtimes: the
pub/sub API reference (reference/api/pubsub_api, "Expected HTTP Response") has RETRY mean the
message is retried by Dapr, and the resiliency docs (operations/resiliency/policies) say each
pub/sub component has built-in retries that a policy only augments.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dapr.ext.fastapi import DaprApp
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .app import Recorder
from .runtimes import private_sidecars

PUBSUB = """
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pubsub
spec:
  type: pubsub.redis
  version: v1
  metadata:
    - name: redisHost
      value: localhost:6379
    - name: processingTimeout
      value: 2s
    - name: redeliverInterval
      value: 500ms
"""


def subscriber(recorder: Recorder) -> FastAPI:
    app = FastAPI()
    dapr = DaprApp(app)

    @dapr.subscribe(pubsub="pubsub", topic="nack-retry")
    async def retry(request: Request) -> JSONResponse:
        event = await request.json()
        recorder.add(f"retry:{event['data']['k']}", event["id"])
        return JSONResponse({"status": "RETRY"})

    @dapr.subscribe(pubsub="pubsub", topic="nack-slow")
    async def slow(request: Request) -> JSONResponse:
        event = await request.json()
        key = f"slow:{event['data']['k']}"
        first = not recorder.get(key)
        recorder.add(key, event["id"])
        if first:
            await asyncio.sleep(3.5)  # longer than processingTimeout
        return JSONResponse({"status": "SUCCESS"})

    return app


@pytest.fixture(scope="module")
def sidecars(runtime: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Recorder]]:
    recorder = Recorder()
    apps: list[dict[str, Any]] = [{"app_id": "nack-pub"}, {"app_id": "nack-sub", "app": subscriber(recorder)}]
    workdir = Path(tmp_path_factory.mktemp("nack"))
    with private_sidecars(runtime, workdir, apps, {"pubsub.yaml": PUBSUB}) as started:
        yield started, recorder


def publish(sidecars: Any, topic: str) -> str:
    k = uuid.uuid4().hex
    resp = httpx.post(f"{sidecars['nack-pub'].http_url}/v1.0/publish/pubsub/{topic}", json={"k": k})
    assert resp.status_code == 204, resp.text
    return k


def test_a_failed_delivery_is_acknowledged_and_not_redelivered(sidecars: tuple[Any, Recorder]) -> None:
    """RETRY without a retry policy: one attempt, then the component acknowledges the message."""
    started, recorder = sidecars
    k = publish(started, "nack-retry")
    assert len(recorder.wait_for(f"retry:{k}", 1, timeout=10)) == 1
    time.sleep(4)  # two processingTimeouts, eight redeliverIntervals
    assert len(recorder.get(f"retry:{k}")) == 1


def test_a_delivery_slower_than_processing_timeout_is_not_redelivered(sidecars: tuple[Any, Recorder]) -> None:
    """The app answers after processingTimeout: daprd's delivery to the app does not end with
    that context, the SUCCESS that comes late is acknowledged, and nothing is redelivered."""
    started, recorder = sidecars
    k = publish(started, "nack-slow")
    assert len(recorder.wait_for(f"slow:{k}", 1, timeout=10)) == 1
    time.sleep(6)  # the slow answer (3.5 s), then two processingTimeouts
    assert len(recorder.get(f"slow:{k}")) == 1
