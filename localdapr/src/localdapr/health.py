"""Health and metadata endpoints the SDKs call.

`DaprClient()` polls `GET /v1.0/healthz/outbound` before it does anything
(dapr/clients/health.py); daprd answers 204 once its components are ready.
"""

from __future__ import annotations

from aiohttp import web

from .sidecar import Block


class HealthBlock(Block):
    def http_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v1.0/healthz", self._healthz),
            web.get("/v1.0/healthz/outbound", self._healthz),
        ]

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(status=204)
