"""The metadata API: `GET /v1.0/metadata` (HTTP) and `GetMetadata`/`SetMetadata` (gRPC, SDK).

Mirrors dapr/dapr `pkg/api/http/metadata.go` (the JSON keys) and the SDK's
`DaprClient.get_metadata()` / `set_metadata()`.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
from dapr.clients import DaprClient

from .conftest import Target
from .runtimes import private_sidecars

STATE_CAPABILITIES = ["ETAG", "TRANSACTIONAL", "TTL", "KEYS_LIKE", "QUERY_API", "ACTOR"]


def test_http_metadata_document(target: Target) -> None:
    """`id`, `runtimeVersion` (localdapr's own: it does not pretend to be daprd), `components`
    scoped to this app with their capabilities (state.postgresql v1 as an actor store; none,
    hence no key, for pubsub.redis), daprd 1.18's default-enabled preview features, the
    Resiliency resources, the subscriptions loaded from the app, `appConnectionProperties`."""
    doc = httpx.get(f"{target.main.http_url}/v1.0/metadata").json()
    assert doc["id"] == "contract"
    assert doc["runtimeVersion"] and doc["extended"]["daprRuntimeVersion"] == doc["runtimeVersion"]
    assert sorted(doc["components"], key=lambda c: c["name"]) == [
        {"name": "pubsub", "type": "pubsub.redis", "version": "v1"},
        {
            "name": "statestore",
            "type": "state.postgresql",
            "version": "v1",
            "capabilities": STATE_CAPABILITIES,
        },
    ]
    assert set(doc["enabledFeatures"]) == {"HotReload", "WorkflowsRemoteActivityReminder"}
    assert doc["resiliencies"] == [{"name": "contract-resiliency"}]
    subscriptions = {s["topic"]: s for s in doc["subscriptions"]}
    assert subscriptions["ps-envelope"] == {
        "pubsubname": "pubsub",
        "topic": "ps-envelope",
        "rules": [{"path": "/events/pubsub/ps-envelope"}],
        "deadLetterTopic": "",
        "type": "PROGRAMMATIC",
    }
    assert subscriptions["ps-script-dl"]["deadLetterTopic"] == "ps-script-dl-dead"
    assert subscriptions["ps-raw"]["metadata"] == {"rawPayload": "true"}
    assert doc["appConnectionProperties"] == {
        "port": target.main.app_port,
        "protocol": "http",
        "channelAddress": "127.0.0.1",
    }


def test_peer_metadata_lists_its_own_components(target: Target) -> None:
    """Each sidecar reports its own app id, the components visible to it and its declarative
    subscription (resources/subscription-pubsub.yaml)."""
    doc = httpx.get(f"{target.peer.http_url}/v1.0/metadata").json()
    assert doc["id"] == "contract-peer"
    names = {c["name"] for c in doc["components"]}
    assert "peerstore" in names and "statestore" not in names
    assert doc["subscriptions"] == [
        {
            "pubsubname": "pubsub",
            "topic": "ps-fanout",
            "rules": [{"path": "/pubsub/fanout"}],
            "deadLetterTopic": "",
            "type": "DECLARATIVE",
        }
    ]


def test_sdk_get_metadata(target: Target) -> None:
    """`DaprClient.get_metadata()` (gRPC GetMetadata) returns the app id and components."""
    with DaprClient(address=target.main.grpc_address) as d:
        meta = d.get_metadata()
    assert meta.application_id == "contract"
    assert {"statestore", "pubsub"} <= {c.name for c in meta.registered_components}


def test_sdk_set_metadata_shows_in_extended(target: Target) -> None:
    """`set_metadata` adds an attribute to `extended`, visible over gRPC and HTTP."""
    key, value = f"k{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with DaprClient(address=target.main.grpc_address) as d:
        d.set_metadata(key, value)
        assert d.get_metadata().extended_metadata[key] == value
    assert httpx.get(f"{target.main.http_url}/v1.0/metadata").json()["extended"][key] == value


def test_http_put_metadata(target: Target) -> None:
    """`PUT /v1.0/metadata/{key}` with a text body answers 204 and sets `extended[key]`."""
    key = f"k{uuid.uuid4().hex[:8]}"
    r = httpx.put(f"{target.peer.http_url}/v1.0/metadata/{key}", content=b"hello")
    assert r.status_code == 204
    assert httpx.get(f"{target.peer.http_url}/v1.0/metadata").json()["extended"][key] == "hello"


def test_shutdown_api_stops_the_sidecar(runtime: str, tmp_path: Path) -> None:
    """`POST /v1.0/shutdown` answers 204, then the sidecar stops serving (daprd exits)."""
    with private_sidecars(runtime, tmp_path, [{"app_id": "shut"}]) as sidecars:
        url = sidecars["shut"].http_url
        assert httpx.post(f"{url}/v1.0/shutdown").status_code == 204
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/v1.0/healthz", timeout=1)
            except httpx.TransportError:
                return
            time.sleep(0.05)
        pytest.fail("the sidecar still answers after /v1.0/shutdown")
