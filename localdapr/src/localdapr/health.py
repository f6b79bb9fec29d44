"""Health endpoints the SDKs call.

`DaprClient()` polls `GET /v1.0/healthz/outbound` before it does anything
(dapr/clients/health.py). daprd answers 204 only once it is initialised, and
500 (`ERR_HEALTH_NOT_READY` / `ERR_OUTBOUND_HEALTH_NOT_READY`) before, so an
SDK never talks to a sidecar whose building blocks are still starting. The
MetadataBlock, started last, marks the sidecar ready.
"""

from __future__ import annotations

from aiohttp import web

from .block import Block


class HealthBlock(Block):
    ready = False

    def mark_ready(self) -> None:
        self.ready = True

    def http_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v1.0/healthz", self._healthz),
            web.get("/v1.0/healthz/outbound", self._outbound),
        ]

    async def _healthz(self, request: web.Request) -> web.Response:
        if self.ready:
            return web.Response(status=204)
        return web.json_response(
            {"errorCode": "ERR_HEALTH_NOT_READY", "message": "dapr is not ready"}, status=500
        )

    async def _outbound(self, request: web.Request) -> web.Response:
        if self.ready:
            return web.Response(status=204)
        body = {"errorCode": "ERR_OUTBOUND_HEALTH_NOT_READY", "message": "dapr outbound is not ready"}
        return web.json_response(body, status=500)
