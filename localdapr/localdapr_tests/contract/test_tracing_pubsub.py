"""An app's W3C context through an untraced sidecar's pub/sub, as the saga's services rely on.

With no tracing configured, daprd's spans are no-op ones that hand the caller's context on:
the publish's `traceparent` header becomes the CloudEvent's `traceparent`/`traceid` (its
`tracestate` the event's `tracestate`), and the delivery's `traceparent` header is the event's.
`subscription/postman/http` Deliver reads only the event's `traceparent` (`SpanContextFromW3CString`
drops trace state), so no `tracestate` header reaches the subscriber.
"""

from __future__ import annotations

import uuid

import httpx

from .app import recorder
from .conftest import Target

ZEROS = "00-00000000000000000000000000000000-0000000000000000-00"
PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_a_publish_carries_the_callers_context_to_the_subscriber(target: Target) -> None:
    k = f"traced-{uuid.uuid4().hex[:12]}"
    resp = httpx.post(
        f"{target.main.http_url}/v1.0/publish/pubsub/ps-envelope",
        json={"k": k},
        headers={"traceparent": PARENT, "tracestate": "k=v"},
    )
    assert resp.status_code == 204, resp.text
    (item,) = recorder.wait_for(f"ps-envelope:{k}", 1, timeout=10)
    event, headers = item["event"], item["headers"]
    assert event["traceparent"] == event["traceid"] == PARENT
    assert event["tracestate"] == "k=v"
    assert headers["traceparent"] == PARENT
    assert "tracestate" not in headers


def test_an_event_with_an_empty_context_is_delivered_with_an_invalid_one(target: Target) -> None:
    """The event's `traceparent` is "" (the publish had no context): the delivery span's parent
    is an invalid context marked remote, which `messaging/v1` InternalMetadataToHTTPHeader
    still writes, as zeros."""
    k = f"untraced-{uuid.uuid4().hex[:12]}"
    resp = httpx.post(f"{target.main.http_url}/v1.0/publish/pubsub/ps-envelope", json={"k": k})
    assert resp.status_code == 204, resp.text
    (item,) = recorder.wait_for(f"ps-envelope:{k}", 1, timeout=10)
    assert item["event"]["traceparent"] == ""
    assert item["headers"]["traceparent"] == ZEROS
