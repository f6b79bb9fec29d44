"""With Dapr's API tokens configured, only the holder of a token gets in.

`DAPR_API_TOKEN` guards each sidecar's HTTP and gRPC APIs (the apps' SDKs send
it from the environment); `APP_API_TOKEN` is what a sidecar sends into its app,
and the apps refuse a call to an internal route without it. The saga still
completes end to end, since every legitimate caller holds its token.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import httpx
import pytest
from dapr.proto.runtime.v1 import dapr_pb2_grpc, metadata_pb2
from dapr_helpers.app_token import OPEN_PATHS
from dapr_helpers.saga.contract import COMMANDS_METHOD

from tests.e2e.stack import STACK_ENV, Stack, make_stack

from .routes import AppRoute, internal_routes

DAPR_TOKEN = f"dapr-{uuid.uuid4().hex}"
APP_TOKEN = f"app-{uuid.uuid4().hex}"
TOKENS = {"DAPR_API_TOKEN": DAPR_TOKEN, "APP_API_TOKEN": APP_TOKEN}


@pytest.fixture(scope="module")
def token_stack(tmp_path_factory: pytest.TempPathFactory, runtime: str) -> Iterator[Stack]:
    """Apps get both tokens in their environment, the sidecars (daprd or localdapr) in theirs."""
    workdir: Path = tmp_path_factory.mktemp(f"tokens-{runtime}")
    s = make_stack(runtime, workdir, env={**STACK_ENV, **TOKENS}, sidecar_env=TOKENS)
    s.start()
    yield s
    s.stop()


@pytest.mark.parametrize("path", ["/v1.0/metadata", "/v1.0/state/order-store/anything"])
def test_a_sidecar_http_api_refuses_a_call_without_the_token(token_stack: Stack, path: str) -> None:
    url = f"{token_stack.sidecar_url('order')}{path}"
    for headers in ({}, {"dapr-api-token": "wrong"}):
        r = httpx.get(url, headers=headers)
        assert r.status_code == 401, r.text
        assert r.text == "invalid api token\n"  # daprd 1.18.2's plain-text answer (localdapr matches it)
    assert httpx.get(url, headers={"dapr-api-token": DAPR_TOKEN}).status_code in (200, 204)


def test_a_sidecar_grpc_api_refuses_a_call_without_the_token(token_stack: Stack) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{token_stack.apps['billing'].grpc_port}") as channel:
        stub = dapr_pb2_grpc.DaprStub(channel)
        for metadata in ((), (("dapr-api-token", "wrong"),)):
            with pytest.raises(grpc.RpcError) as err:
                stub.GetMetadata(metadata_pb2.GetMetadataRequest(), metadata=metadata, timeout=10)
            assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
        answer = stub.GetMetadata(
            metadata_pb2.GetMetadataRequest(), metadata=(("dapr-api-token", DAPR_TOKEN),), timeout=10
        )
        assert answer.id == "billing"


def test_the_sidecar_health_endpoint_needs_no_token(token_stack: Stack) -> None:
    # As in daprd: probes carry no token.
    assert httpx.get(f"{token_stack.sidecar_url('order')}/v1.0/healthz").status_code == 204


@pytest.mark.parametrize("route", [r for r in internal_routes() if r.path not in OPEN_PATHS], ids=str)
def test_an_apps_internal_route_refuses_a_direct_call_without_the_app_token(
    token_stack: Stack, route: AppRoute
) -> None:
    url, method = f"{token_stack.app_url(route.app_id)}{route.path}", route.method
    for headers in ({}, {"dapr-api-token": "wrong"}, {"dapr-api-token": DAPR_TOKEN}):
        r = httpx.request(method, url, params=route.query, headers=headers, json={})
        assert r.status_code == 401, (headers, r.text)
    r = httpx.request(method, url, params=route.query, headers={"dapr-api-token": APP_TOKEN}, json={})
    # Let in; the saga's command route then refuses `{}` as no command (422), changing nothing.
    assert r.status_code == (422 if route.path == f"/{COMMANDS_METHOD}" else 200), r.text


def test_app_health_and_public_api_stay_open_without_a_token(token_stack: Stack) -> None:
    assert httpx.get(f"{token_stack.app_url('stock')}/healthz").status_code == 200
    assert httpx.get(f"{token_stack.app_url('stock')}/stock").status_code == 200
    assert httpx.get(f"{token_stack.url}/delivery/couriers").status_code == 200


def test_the_saga_completes_end_to_end_with_tokens(token_stack: Stack) -> None:
    # Every hop needs a token: the SDK calls into the sidecars (state, pub/sub,
    # invocation, the workflow stream), and the sidecars' deliveries into the apps.
    with httpx.Client(base_url=token_stack.url, timeout=40) as http:
        login = f"tok-{uuid.uuid4().hex[:8]}"
        assert http.post("/billing/register", params={"login": login}).status_code == 201
        assert http.post("/billing/refill", json={"login": login, "amount": 100}).status_code == 200
        r = http.post("/stock/register", json={"description": "token-apple", "quantity": 5})
        assert r.status_code == 201, r.text
        product = r.json()["id"]
        slot = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=30)
        order = {
            "login": login,
            "e_mail": f"{login}@example.com",
            "id_product": product,
            "quntity": 2,
            "amount": "30.00",
            "dtime": slot.strftime("%Y-%m-%d %H:%M:%S"),
        }
        r = http.post("/orders/", json=order)
        assert r.status_code == 201, r.text
        final = http.get(f"/orders/{r.json()['id']}", params={"wait": 30}).json()
        assert final["status"] == "completed", final
        assert http.get(f"/billing/account/{login}").json()["balance"] == 70
        assert http.get(f"/stock/{product}").json()["quantity"] == 3
        assert [b["id_order"] for b in http.get("/delivery").json() if b["id_order"] == final["id"]]

    # Any pod could otherwise tell the saga that a step failed: a forged reply to the
    # order app's subscription route is refused without the token the sidecar holds.
    forged = {
        "specversion": "1.0",
        "id": uuid.uuid4().hex,
        "source": "billing",
        "type": "com.dapr.event.sent",
        "topic": "order-replies",
        "pubsubname": "pubsub",
        "datacontenttype": "application/json",
        "data": {"order_id": final["id"], "participant": "billing", "action": "pay", "ok": False},
    }
    route = f"{token_stack.app_url('order')}/events/pubsub/order-replies"
    for headers in ({}, {"dapr-api-token": DAPR_TOKEN}):
        assert httpx.post(route, json=forged, headers=headers).status_code == 401
    with httpx.Client(base_url=token_stack.url, timeout=10) as http:
        assert http.get(f"/orders/{final['id']}").json() == final
