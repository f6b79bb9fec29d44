"""Health before readiness: daprd answers healthz 500 until it has initialised.

Mirrors dapr/dapr `pkg/api/http/healthz.go` (ERR_HEALTH_NOT_READY,
ERR_OUTBOUND_HEALTH_NOT_READY): the SDK's `DaprClient()` waits on
`/v1.0/healthz/outbound`, so it must not see 204 while building blocks are
still starting. A unit test of the block (no running sidecar needed).
"""

from __future__ import annotations

from types import SimpleNamespace

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from localdapr.health import HealthBlock

from .conftest import localdapr_only

pytestmark = localdapr_only


async def test_healthz_is_500_until_the_sidecar_has_started() -> None:
    block = HealthBlock(SimpleNamespace())
    app = web.Application()
    app.add_routes(block.http_routes())
    async with TestClient(TestServer(app)) as client:
        inbound = await client.get("/v1.0/healthz")
        outbound = await client.get("/v1.0/healthz/outbound")
        assert inbound.status == outbound.status == 500
        assert (await inbound.json())["errorCode"] == "ERR_HEALTH_NOT_READY"
        assert (await outbound.json())["errorCode"] == "ERR_OUTBOUND_HEALTH_NOT_READY"
        block.mark_ready()  # what the last block's start does
        assert (await client.get("/v1.0/healthz")).status == 204
        assert (await client.get("/v1.0/healthz/outbound")).status == 204
