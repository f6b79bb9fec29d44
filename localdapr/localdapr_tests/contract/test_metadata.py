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

from .app_invoke import private_localdapr
from .conftest import TARGET, Target


def test_http_metadata_document(target: Target) -> None:
    """`id`, `runtimeVersion`, `components` (scoped to this app) and `appConnectionProperties`."""
    doc = httpx.get(f"{target.main.http_url}/v1.0/metadata").json()
    assert doc["id"] == "contract"
    assert doc["runtimeVersion"]
    names = {c["name"]: c for c in doc["components"]}
    assert {"statestore", "pubsub"} <= set(names)
    assert "peerstore" not in names  # scoped to contract-peer only
    assert names["statestore"]["type"] == "state.postgresql"
    assert names["statestore"]["version"] == "v1"
    assert isinstance(names["statestore"]["capabilities"], list)
    assert doc["appConnectionProperties"]["port"] == target.main.app_port
    assert doc["appConnectionProperties"]["protocol"] == "http"


def test_peer_metadata_lists_its_own_components(target: Target) -> None:
    """Each sidecar reports its own app id and the components visible to it."""
    doc = httpx.get(f"{target.peer.http_url}/v1.0/metadata").json()
    assert doc["id"] == "contract-peer"
    names = {c["name"] for c in doc["components"]}
    assert "peerstore" in names and "statestore" not in names


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


@pytest.mark.skipif(TARGET == "daprd", reason="stops a sidecar: uses its own localdapr")
def test_shutdown_api_stops_the_sidecar(tmp_path: Path) -> None:
    """`POST /v1.0/shutdown` answers 204, then the sidecar stops serving (daprd exits)."""
    with private_localdapr(tmp_path, [{"app_id": "shut"}]) as sidecars:
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
