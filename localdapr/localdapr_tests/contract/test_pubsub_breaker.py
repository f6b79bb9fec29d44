"""A delivery that exhausts its retries must not stop the same sidecar's publishing.

daprd looks a component's circuit breaker up by the component's name alone, for
inbound and outbound alike (dapr/dapr `pkg/resiliency/resiliency.go`
ComponentInboundPolicy / ComponentOutboundPolicy share `componentCBs`). So an inbound
breaker on `pubsub`, tripped by one message answered RETRY through all its retries,
also refuses every publish of that sidecar until it closes. The project's Resiliency
(`components/resiliency.yaml`, the chart's) therefore puts a breaker on publishing
only; these tests hold that layout, and show on daprd what the other one does.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from dapr.ext.fastapi import DaprApp
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .app import Recorder
from .runtimes import private_sidecars

PUBSUB = (Path(__file__).parent / "resources" / "pubsub.yaml").read_text()

# The project's layout with short timings: a breaker on publishing, retries inbound.
RESILIENCY = """
apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: breakers
spec:
  policies:
    retries:
      fast:
        policy: constant
        duration: 20ms
        maxRetries: 5
    circuitBreakers:
      tripsOnTwo:
        maxRequests: 1
        interval: 60s
        timeout: 60s
        trip: consecutiveFailures >= 2
  targets:
    components:
      pubsub:
        outbound:
          circuitBreaker: tripsOnTwo
        inbound:
          retry: fast
"""
WITH_INBOUND_BREAKER = RESILIENCY.replace(
    "          retry: fast\n", "          retry: fast\n          circuitBreaker: tripsOnTwo\n"
)


def subscriber(recorder: Recorder) -> FastAPI:
    app = FastAPI()
    dapr = DaprApp(app)

    @dapr.subscribe(pubsub="pubsub", topic="brk-refused", dead_letter_topic="brk-dead")
    async def refused(request: Request) -> JSONResponse:
        recorder.add(f"try:{(await request.json())['data']['k']}", 1)
        return JSONResponse({"status": "RETRY"})

    @dapr.subscribe(pubsub="pubsub", topic="brk-dead")
    async def dead(request: Request) -> JSONResponse:
        recorder.add(f"dead:{(await request.json())['data']['k']}", 1)
        return JSONResponse({"status": "SUCCESS"})

    @dapr.subscribe(pubsub="pubsub", topic="brk-fine")
    async def fine(request: Request) -> JSONResponse:
        recorder.add(f"fine:{(await request.json())['data']['k']}", 1)
        return JSONResponse({"status": "SUCCESS"})

    return app


def sidecars(runtime: str, workdir: Path, resiliency: str) -> Any:
    recorder = Recorder()
    apps = [{"app_id": "brk-sub", "app": subscriber(recorder)}]
    resources = {"pubsub.yaml": PUBSUB, "resiliency.yaml": resiliency}
    return private_sidecars(runtime, workdir, apps, resources), recorder


def refuse_one_message(url: str, recorder: Recorder) -> str:
    """Publish, through the subscriber's own sidecar, a message its app refuses for good."""
    k = uuid.uuid4().hex
    assert httpx.post(f"{url}/v1.0/publish/pubsub/brk-refused", json={"k": k}).status_code == 204
    assert recorder.wait_for(f"try:{k}", 2, timeout=20), "not delivered twice"
    return k


def publish_fine(url: str) -> tuple[httpx.Response, str]:
    k = uuid.uuid4().hex
    return httpx.post(f"{url}/v1.0/publish/pubsub/brk-fine", json={"k": k}), k


def test_an_exhausted_delivery_leaves_the_sidecars_publishing_open(
    runtime: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    started, recorder = sidecars(runtime, tmp_path_factory.mktemp("brk"), RESILIENCY)
    with started as private:
        url = private["brk-sub"].http_url
        k = refuse_one_message(url, recorder)
        assert recorder.wait_for(f"dead:{k}", 1, timeout=20), "never dead-lettered"
        assert len(recorder.get(f"try:{k}")) == 6  # the delivery and its 5 retries, all failures
        for _ in range(3):
            r, k = publish_fine(url)
            assert r.status_code == 204, r.text
            assert recorder.wait_for(f"fine:{k}", 1, timeout=20), "published but never delivered"


def test_on_daprd_an_inbound_breaker_also_refuses_publishing(
    runtime: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Why the layout above: the breaker the failed deliveries opened is the publisher's too."""
    if runtime != "dapr":
        pytest.skip("localdapr keeps no circuit breakers (localdapr/README.md)")
    started, recorder = sidecars(runtime, tmp_path_factory.mktemp("brk-in"), WITH_INBOUND_BREAKER)
    with started as private:
        url = private["brk-sub"].http_url
        k = refuse_one_message(url, recorder)  # two failures trip the breaker
        r, _ = publish_fine(url)
        assert r.status_code == 500 and "circuit breaker is open" in r.text, r.text
        # The dead-letter publish is refused as well: the message never gets there.
        assert not recorder.wait_for(f"dead:{k}", 1, timeout=3)
