"""Pub/sub through the real SDK: the envelope, delivery outcomes and durability.

Subscriber behaviour is scripted per message (see app_pubsub.py); retries use
the short inbound policy in resources/resiliency.yaml (1 attempt + 3 retries).
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from datetime import datetime
from typing import Any

import grpc
import httpx
import pytest
from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprGrpcError

from .app import recorder
from .conftest import Target

PUBSUB = "pubsub"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def new_marker(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def publish(target: Target, topic: str, data: Any, content_type: str | None = None, **metadata: str) -> None:
    body = data if isinstance(data, bytes | str) else json.dumps(data)
    if content_type is None and not isinstance(data, bytes | str):
        content_type = "application/json"
    with DaprClient(address=target.main.grpc_address) as client:
        client.publish_event(PUBSUB, topic, body, data_content_type=content_type, publish_metadata=metadata)


def received(key: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
    items = recorder.wait_for(key, count, timeout)
    assert len(items) >= count, f"{key}: expected {count} deliveries, got {len(items)}"
    return items


def settled(key: str, count: int) -> list[dict[str, Any]]:
    """Exactly `count` deliveries: wait for them, then make sure no extra one follows."""
    received(key, count)
    return recorder.wait_for(key, count + 1, timeout=0.5)


# -- the envelope ----------------------------------------------------------------


def test_json_data_is_wrapped_in_a_cloudevent(target: Target) -> None:
    """components-contrib pubsub/envelope.go NewCloudEventsEnvelope: every field Dapr sets,
    `data` parsed from JSON, POSTed as application/cloudevents+json (postman/http). With no
    tracing configured the trace fields are empty (see test_pubsub_tracing for a traced one)."""
    k = new_marker("json")
    publish(target, "ps-envelope", {"k": k, "n": 12345678901234567890, "f": 1.5})
    (item,) = received(f"ps-envelope:{k}")
    event, headers = item["event"], item["headers"]
    assert headers["content-type"] == "application/cloudevents+json"
    assert UUID.match(event["id"])
    assert event["source"] == "contract"
    assert event["type"] == "com.dapr.event.sent"
    assert event["specversion"] == "1.0"
    assert event["datacontenttype"] == "application/json"
    assert event["data"] == {"k": k, "n": 12345678901234567890, "f": 1.5}
    assert event["topic"] == "ps-envelope"
    assert event["pubsubname"] == PUBSUB
    # No tracing configured: daprd's spans are OpenTelemetry's no-op ones, whose context is
    # invalid, and grpc.go leaves the trace fields empty (diag.TraceIDAndStateFromSpan).
    assert event["traceparent"] == event["traceid"] == event["tracestate"] == ""
    assert datetime.fromisoformat(event["time"].replace("Z", "+00:00")).tzinfo is not None
    assert "expiration" not in event and "data_base64" not in event


def test_text_data_defaults_to_text_plain(target: Target) -> None:
    """envelope.go: no content type -> datacontenttype text/plain and `data` as a string
    (the Python SDK sends no content type unless data_content_type is given)."""
    k = new_marker("text")
    publish(target, "ps-envelope", k)
    (item,) = received(f"ps-envelope:{k}")
    assert item["event"]["datacontenttype"] == "text/plain"
    assert item["event"]["data"] == k


def test_invalid_json_data_is_kept_as_a_string(target: Target) -> None:
    """envelope.go: JSON content type whose body does not parse -> `data` is the string."""
    k = new_marker("badjson")
    publish(target, "ps-envelope", f"{k} {{not json", content_type="application/json")
    key = f"ps-envelope:{k} {{not json"
    (item,) = received(key)
    assert item["event"]["datacontenttype"] == "application/json"
    assert item["event"]["data"] == f"{k} {{not json"


def test_binary_data_goes_to_data_base64(target: Target) -> None:
    """envelope.go: application/octet-stream -> `data_base64`, no `data`."""
    k = new_marker("bin")
    publish(target, "ps-envelope", k.encode(), content_type="application/octet-stream")
    (item,) = received(f"ps-envelope:{k}")
    event = item["event"]
    assert event["datacontenttype"] == "application/octet-stream"
    assert base64.b64decode(event["data_base64"]) == k.encode()
    assert "data" not in event


def test_ttl_sets_expiration(target: Target) -> None:
    """envelope.go ApplyMetadata: `ttlInSeconds` -> `expiration` (RFC 3339, UTC), for a
    component without native message TTL such as Redis Streams."""
    k = new_marker("ttl")
    before = time.time()
    publish(target, "ps-envelope", {"k": k}, ttlInSeconds="120")
    (item,) = received(f"ps-envelope:{k}")
    expiration = datetime.fromisoformat(item["event"]["expiration"].replace("Z", "+00:00"))
    assert before + 110 < expiration.timestamp() < time.time() + 130


def test_cloudevent_metadata_overrides_fields(target: Target) -> None:
    """dapr/dapr pkg/runtime/pubsub/cloudevents.go: `cloudevent.*` metadata overrides id,
    source, type and the trace fields (traceparent wins over traceid)."""
    k = new_marker("override")
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    publish(
        target,
        "ps-envelope",
        {"k": k},
        **{
            "cloudevent.id": f"id-{k}",
            "cloudevent.source": "my-source",
            "cloudevent.type": "my.type",
            "cloudevent.traceparent": tp,
        },
    )
    (item,) = received(f"ps-envelope:{k}")
    event = item["event"]
    assert (event["id"], event["source"], event["type"]) == (f"id-{k}", "my-source", "my.type")
    assert event["traceparent"] == event["traceid"] == tp
    assert item["headers"]["traceparent"] == tp


def test_published_cloudevent_passes_through(target: Target) -> None:
    """envelope.go FromCloudEvent: an application/cloudevents+json body keeps its own
    fields; Dapr sets topic, pubsubname and the trace fields and fills defaults."""
    k = new_marker("ce")
    event_in = {"id": f"ce-{k}", "source": "upstream", "type": "custom.type", "data": {"k": k}, "extra": 1}
    publish(target, "ps-envelope", json.dumps(event_in), content_type="application/cloudevents+json")
    (item,) = received(f"ps-envelope:{k}")
    event = item["event"]
    assert (event["id"], event["source"], event["type"], event["extra"]) == (
        f"ce-{k}",
        "upstream",
        "custom.type",
        1,
    )
    assert event["specversion"] == "1.0"
    assert event["topic"] == "ps-envelope" and event["pubsubname"] == PUBSUB
    assert event["traceparent"] == "" and "time" in event  # no tracing configured


def test_raw_payload_is_published_as_is(target: Target) -> None:
    """grpc.go PublishEvent with metadata rawPayload=true: no envelope; the subscriber
    (without rawPayload) receives the bytes as published."""
    k = new_marker("raw")
    publish(target, "ps-envelope", json.dumps({"k": k}), rawPayload="true")
    (item,) = received(f"ps-envelope:{k}")
    assert item["event"] == {"k": k}


def test_raw_payload_subscription_wraps_the_bytes(target: Target) -> None:
    """subscription.go + envelope.go FromRawPayload: a subscription with rawPayload=true gets
    a CloudEvent made on the subscriber's side, the message bytes in `data_base64`."""
    k = new_marker("rawsub")
    publish(target, "ps-raw", k, rawPayload="true")
    (item,) = received(f"ps-raw:{k}")
    event = item["event"]
    assert event["datacontenttype"] == "application/octet-stream"
    assert base64.b64decode(event["data_base64"]) == k.encode()
    assert (event["topic"], event["pubsubname"], event["type"]) == ("ps-raw", PUBSUB, "com.dapr.event.sent")
    assert UUID.match(event["id"])


def test_http_publish_with_metadata_query(target: Target) -> None:
    """http.go onPublish: POST /v1.0/publish/{pubsub}/{topic}, Content-Type -> datacontenttype,
    `metadata.*` query parameters, 204 No Content."""
    k = new_marker("http")
    resp = httpx.post(
        f"{target.main.http_url}/v1.0/publish/{PUBSUB}/ps-envelope",
        params={"metadata.ttlInSeconds": "60", "metadata.cloudevent.type": "via.http"},
        json={"k": k},
    )
    assert resp.status_code == 204, resp.text
    (item,) = received(f"ps-envelope:{k}")
    assert item["event"]["datacontenttype"] == "application/json"
    assert item["event"]["type"] == "via.http"
    assert item["event"]["data"] == {"k": k}
    assert "expiration" in item["event"]


def test_bulk_publish(target: Target) -> None:
    """grpc.go BulkPublishEvent: each entry becomes its own CloudEvent; no failed entries."""
    ks = [new_marker("bulk") for _ in range(3)]
    with DaprClient(address=target.main.grpc_address) as client:
        resp = client.publish_events(
            PUBSUB, "ps-envelope", [json.dumps({"k": k}) for k in ks], data_content_type="application/json"
        )
    assert resp.failed_entries == []
    for k in ks:
        assert received(f"ps-envelope:{k}")[0]["event"]["data"] == {"k": k}


# -- errors ----------------------------------------------------------------------


def test_publish_to_unknown_pubsub_is_invalid_argument(target: Target) -> None:
    """grpc.go validateAndGetPubsubAndTopic + errors/pubsub.go NotFound: an unknown pubsub is
    INVALID_ARGUMENT "pubsub <name> is not found", an ErrorInfo DAPR_PUBSUB_NOT_FOUND and,
    unlike the other pub/sub errors, no ResourceInfo."""
    with DaprClient(address=target.main.grpc_address) as client, pytest.raises(DaprGrpcError) as info:
        client.publish_event("no-such-pubsub", "t", "x")
    err = info.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "pubsub no-such-pubsub is not found"
    assert err.error_code() == "DAPR_PUBSUB_NOT_FOUND"
    assert err.status_details().resource_info is None


def test_http_publish_to_unknown_pubsub_is_404(target: Target) -> None:
    """http.go validateAndGetPubsubAndTopic + errors/pubsub.go: HTTP 404 ERR_PUBSUB_NOT_FOUND,
    one ErrorInfo holding the request's `metadata.*` parameters."""
    resp = httpx.post(f"{target.main.http_url}/v1.0/publish/no-such-pubsub/t", content=b"x")
    assert resp.status_code == 404
    assert resp.json() == {
        "errorCode": "ERR_PUBSUB_NOT_FOUND",
        "message": "pubsub no-such-pubsub is not found",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "DAPR_PUBSUB_NOT_FOUND",
                "domain": "dapr.io",
                "metadata": {},  # http.go passes the request's (empty) metadata
            }
        ],
    }


def test_publish_with_empty_pubsub_name_is_invalid_argument(target: Target) -> None:
    """grpc.go validateAndGetPubsubAndTopic: an empty pubsub name is INVALID_ARGUMENT."""
    with DaprClient(address=target.main.grpc_address) as client, pytest.raises(DaprGrpcError) as info:
        client.publish_event("", "t", "x")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# -- how the app's reply is read (postman/http/http.go) ---------------------------


@pytest.mark.parametrize("reply", ["SUCCESS", "EMPTY", "TEXT", "{}"])
def test_success_replies_are_acknowledged_once(target: Target, reply: str) -> None:
    """http.go Deliver: 2xx with SUCCESS, an empty body, an unparseable body or {} is success."""
    k = new_marker(f"ok-{reply}")
    publish(target, "ps-script", {"k": k, "script": [reply, "RETRY"]})
    assert len(settled(f"ps-script:{k}", 1)) == 1


def test_retry_then_success(target: Target) -> None:
    """http.go: {"status": "RETRY"} is retried under the resiliency policy until SUCCESS."""
    k = new_marker("retry")
    publish(target, "ps-script", {"k": k, "script": ["RETRY", "RETRY", "SUCCESS"]})
    assert len(settled(f"ps-script:{k}", 3)) == 3


def test_unknown_status_is_retried(target: Target) -> None:
    """http.go: an unknown status in a 2xx reply is treated as an error and retried."""
    k = new_marker("unknown")
    publish(target, "ps-script", {"k": k, "script": ["MAYBE", "SUCCESS"]})
    assert len(settled(f"ps-script:{k}", 2)) == 2


def test_http_500_is_retried_until_the_app_recovers(target: Target) -> None:
    """http.go: a non-2xx, non-404 status is a retriable error (subscriber failing, then back)."""
    k = new_marker("500")
    publish(target, "ps-script", {"k": k, "script": [500, 503, "SUCCESS"]})
    assert len(settled(f"ps-script:{k}", 3)) == 3


def test_http_404_drops_without_dead_letter_topic(target: Target) -> None:
    """http.go: 404 is non-retriable: the message is dropped (acknowledged)."""
    k = new_marker("404")
    publish(target, "ps-script", {"k": k, "script": [404, "SUCCESS"]})
    assert len(settled(f"ps-script:{k}", 1)) == 1


def test_drop_goes_to_dead_letter_topic(target: Target) -> None:
    """subscription.go: ErrMessageDropped with deadLetterTopic set -> the message is
    republished unchanged to the dead-letter topic (same id, original topic field)."""
    k = new_marker("drop")
    publish(target, "ps-script-dl", {"k": k, "script": ["DROP", "SUCCESS"]})
    (first,) = settled(f"ps-script-dl:{k}", 1)
    (dead,) = received(f"ps-script-dl-dead:{k}")
    assert dead["event"]["id"] == first["event"]["id"]
    assert dead["event"]["topic"] == "ps-script-dl"


def test_http_404_goes_to_dead_letter_topic(target: Target) -> None:
    """http.go + subscription.go: a 404 is a drop, so it also goes to the dead-letter topic."""
    k = new_marker("404dl")
    publish(target, "ps-script-dl", {"k": k, "script": [404]})
    settled(f"ps-script-dl:{k}", 1)
    received(f"ps-script-dl-dead:{k}")


def test_retries_exhausted_go_to_dead_letter_topic(target: Target) -> None:
    """subscription.go: when the inbound retry policy runs out (1 + maxRetries 3 attempts)
    the message is sent to the dead-letter topic."""
    k = new_marker("exhaust")
    publish(target, "ps-script-dl", {"k": k, "script": ["RETRY"]})
    assert len(settled(f"ps-script-dl:{k}", 4)) == 4
    received(f"ps-script-dl-dead:{k}")


def test_two_apps_each_receive_every_message(target: Target) -> None:
    """Consumer group per app id (Redis Streams consumerID defaults to the app id): a
    programmatic subscriber (contract) and a declarative one (contract-peer) both get it."""
    k = new_marker("fanout")
    publish(target, "ps-fanout", {"k": k})
    main = received(f"ps-fanout:{k}")
    peer = received(f"peer:ps-fanout:{k}")
    assert main[0]["event"]["id"] == peer[0]["event"]["id"]


def test_peer_publishes_with_its_own_source(target: Target) -> None:
    """envelope.go: `source` is the publishing app's id."""
    k = new_marker("peer-src")
    with DaprClient(address=target.peer.grpc_address) as client:
        client.publish_event(
            PUBSUB, "ps-envelope", json.dumps({"k": k}), data_content_type="application/json"
        )
    assert received(f"ps-envelope:{k}")[0]["event"]["source"] == "contract-peer"


# -- durability ------------------------------------------------------------------


def test_undelivered_messages_survive_kill_9(restartable: Target) -> None:
    """At-least-once: messages in flight (unacknowledged) or not yet delivered when the
    sidecar process is killed with SIGKILL are delivered after it restarts."""
    target = restartable
    app = f"http://127.0.0.1:{target.main.app_port}"
    httpx.post(f"{app}/pubsub-test/mode/ps-durable/block").raise_for_status()
    ks = [new_marker("durable") for _ in range(40)]
    try:
        with DaprClient(address=target.main.grpc_address) as client:
            for k in ks:
                client.publish_event(
                    PUBSUB, "ps-durable", json.dumps({"k": k}), data_content_type="application/json"
                )
        received("ps-durable-blocked", 1)  # some deliveries are parked in the app, unanswered
        target.kill()
    finally:
        httpx.post(f"{app}/pubsub-test/mode/ps-durable/accept").raise_for_status()
    target.start()
    deadline = time.monotonic() + 20
    while not set(ks) <= set(recorder.get("ps-durable")) and time.monotonic() < deadline:
        recorder.wait_for("ps-durable", len(recorder.get("ps-durable")) + 1, timeout=1)
    assert set(ks) <= set(recorder.get("ps-durable"))
