"""W3C trace context, as far as an app or a subscriber sees it.

dapr/dapr `pkg/runtime/runtime.go` setupTracing registers a TracerProvider only when the
Configuration sets a `samplingRate` (any) or an exporter; the sampler is
ParentBased(TraceIDRatioBased(rate)). Without one, spans are OpenTelemetry's no-op ones: they
hand an incoming context on unchanged, or carry an invalid one. `pkg/diagnostics/http_tracing.go`
HTTPTraceMiddleware (on unless the rate is "0") writes the span's context into every HTTP API
response but healthz; `pkg/messaging/direct_messaging.go` adds it, the caller's namespace and
the Forwarded headers to a call into the app. The shared target has no tracing configured; a
pair of sidecars of their own has `samplingRate: "1"`.
"""

from __future__ import annotations

import json
import re
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
from .app_invoke import echo_app
from .conftest import Target
from .runtimes import private_sidecars

ZEROS = "00-00000000000000000000000000000000-0000000000000000-00"
PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
W3C = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
PEER = "contract-peer"


def test_untraced_http_responses_carry_an_invalid_context(target: Target) -> None:
    """No tracing configured: the middleware still runs (default rate 1e-4), and writes the
    no-op span's invalid context, all zeros; an incoming context comes back unchanged; healthz
    is left alone."""
    url = target.main.http_url
    assert httpx.get(f"{url}/v1.0/metadata").headers["traceparent"] == ZEROS
    assert httpx.get(f"{url}/v1.0/state/statestore/{uuid.uuid4().hex}").headers["traceparent"] == ZEROS
    resp = httpx.get(f"{url}/v1.0/metadata", headers={"traceparent": PARENT})
    assert resp.headers["traceparent"] == PARENT
    assert "traceparent" not in httpx.get(f"{url}/v1.0/healthz").headers


def test_an_invoked_app_sees_namespace_forwarded_and_trace_headers(target: Target) -> None:
    """direct_messaging.go: `dapr-caller-namespace` (self-hosted: default), X-Forwarded-For and
    X-Forwarded-Host (the sidecar's host address, DAPR_HOST_IP as `dapr run` sets it, and host
    name), RFC 7239 Forwarded, and the span's `traceparent` (zeros untraced, else the caller's)."""
    url = f"{target.main.http_url}/v1.0/invoke/{PEER}/method/invoke/echo/trace"
    resp = httpx.get(url)
    seen = resp.json()["headers"]
    assert resp.headers["traceparent"] == ZEROS
    assert seen["traceparent"] == ZEROS
    assert seen["dapr-caller-namespace"] == "default"
    assert seen["x-forwarded-for"] == "127.0.0.1"
    host = seen["x-forwarded-host"]
    assert host and seen["forwarded"] == f"for=127.0.0.1;by=127.0.0.1;host={host}"
    resp = httpx.get(url, headers={"traceparent": PARENT, "tracestate": "k=v"})
    assert resp.headers["traceparent"] == resp.json()["headers"]["traceparent"] == PARENT


# -- sidecars with tracing on --------------------------------------------------------------------

TRACED = {
    "apiVersion": "dapr.io/v1alpha1",
    "kind": "Configuration",
    "metadata": {"name": "traced"},
    "spec": {"tracing": {"samplingRate": "1"}},
}
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
"""


def subscriber(recorder: Recorder) -> FastAPI:
    app = echo_app("traced-sub", recorder)
    dapr = DaprApp(app)

    @dapr.subscribe(pubsub="pubsub", topic="traced")
    async def traced(request: Request) -> JSONResponse:
        event = await request.json()
        recorder.add(f"traced-headers:{event['data']['k']}", dict(request.headers))
        recorder.add(f"traced:{event['data']['k']}", event)
        return JSONResponse({"status": "SUCCESS"})

    return app


@pytest.fixture(scope="module")
def traced(runtime: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Recorder]]:
    recorder = Recorder()
    apps: list[dict[str, Any]] = [
        {"app_id": "traced-pub", "config": TRACED},
        {"app_id": "traced-sub", "app": subscriber(recorder), "config": TRACED},
    ]
    workdir = Path(tmp_path_factory.mktemp("traced"))
    with private_sidecars(runtime, workdir, apps, {"pubsub.yaml": PUBSUB}) as sidecars:
        yield sidecars, recorder


def publish(sidecar: Any, recorder: Recorder, headers: dict[str, str] | None = None) -> dict[str, Any]:
    k = uuid.uuid4().hex
    resp = httpx.post(f"{sidecar.http_url}/v1.0/publish/pubsub/traced", json={"k": k}, headers=headers or {})
    assert resp.status_code == 204, resp.text
    (event,) = recorder.wait_for(f"traced:{k}", 1, timeout=20)
    return {"event": event, "response": resp}


def test_a_traced_publish_gets_a_sampled_root_span(traced: tuple[Any, Recorder]) -> None:
    """samplingRate 1: the publish starts a root span of its own, sampled (flags 01); the CloudEvent
    carries its context as `traceparent` and `traceid`, and the HTTP response names the same span."""
    sidecars, recorder = traced
    got = publish(sidecars["traced-pub"], recorder)
    event = got["event"]
    assert W3C.match(event["traceparent"]) and event["traceparent"].endswith("-01")
    assert event["traceid"] == event["traceparent"] and event["tracestate"] == ""
    assert got["response"].headers["traceparent"] == event["traceparent"]


def test_a_traced_publish_continues_the_callers_trace(traced: tuple[Any, Recorder]) -> None:
    """ParentBased: with an incoming context the span is its child: same trace id, a span id of
    its own, the parent's sampled flag and trace state."""
    sidecars, recorder = traced
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
    event = publish(sidecars["traced-pub"], recorder, {"traceparent": parent, "tracestate": "a=1"})["event"]
    m = W3C.match(event["traceparent"])
    assert m is not None
    assert m.group(1) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert m.group(2) != "00f067aa0ba902b7"
    assert m.group(3) == "00"
    assert event["tracestate"] == "a=1"


def test_a_traced_delivery_reaches_the_subscriber_in_a_span_of_its_own(traced: tuple[Any, Recorder]) -> None:
    """`subscription/postman/http` Deliver: the subscriber's sidecar starts a `pubsub/{topic}`
    span, the CloudEvent's context its parent, and the delivery's `traceparent` names that span;
    the channel writes `tracestate` from the span alone, and the event's is not read into it."""
    sidecars, recorder = traced
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    event = publish(sidecars["traced-pub"], recorder, {"traceparent": parent, "tracestate": "a=1"})["event"]
    (headers,) = recorder.get(f"traced-headers:{event['data']['k']}")
    seen, published = W3C.match(headers["traceparent"]), W3C.match(event["traceparent"])
    assert seen is not None and published is not None
    assert seen.group(1) == published.group(1) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert seen.group(2) not in (published.group(2), "00f067aa0ba902b7")
    assert seen.group(3) == "01"
    assert "tracestate" not in headers


def test_a_traced_call_reaches_the_app_in_a_span_of_its_own(traced: tuple[Any, Recorder]) -> None:
    """Each sidecar starts its own span: the app sees a context of the caller's trace, not the
    caller's span."""
    sidecars, _ = traced
    url = f"{sidecars['traced-pub'].http_url}/v1.0/invoke/traced-sub/method/invoke/echo/x"
    resp = httpx.get(url, headers={"traceparent": PARENT})
    seen = json.loads(resp.content)["headers"]["traceparent"]
    m = W3C.match(seen)
    assert m is not None and m.group(1) == PARENT.split("-")[1] and m.group(2) != PARENT.split("-")[2]
    assert resp.headers["traceparent"] != PARENT
