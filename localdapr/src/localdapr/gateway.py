"""The local gateway: the Kubernetes ingress of `arch.homework`, on localhost.

Like an ingress with `pathType: Prefix`, a route matches whole path segments
(`/orders` matches `/orders`, `/orders/` and `/orders/7`, not `/orders7`), the
longest prefix wins, the path is not rewritten, and requests go straight to
the app's port (an ingress talks to the Service, not to the sidecar).
Anything unrouted is 404, so internal routes (`/dapr/subscribe`, pub/sub
handlers, health) stay unreachable. Bodies stream in both directions.
"""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web

log = logging.getLogger("localdapr.gateway")

# Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own business.
_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


def match_route(routes: dict[str, int], path: str) -> int | None:
    """The upstream port for `path`: longest prefix matching on segment boundaries."""
    matching = [p for p in routes if p == "/" or path == p or path.startswith(p + "/")]
    return routes[max(matching, key=len)] if matching else None


class Gateway:
    def __init__(self, routes: dict[str, int], host: str = "127.0.0.1", port: int = 8080) -> None:
        self.routes = routes  # public prefix -> app port
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # No total timeout: responses may stream for as long as the app wants.
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5), auto_decompress=False
        )
        app = web.Application(client_max_size=0)
        app.router.add_route("*", "/{tail:.*}", self._proxy)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port, reuse_port=False).start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
        if self._session:
            await self._session.close()

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        port = match_route(self.routes, request.path)
        if port is None:
            return web.Response(status=404, text="404 page not found\n")
        assert self._session is not None
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP]
        peer = request.remote or ""
        prior = request.headers.get("X-Forwarded-For")
        headers += [
            ("X-Forwarded-For", f"{prior}, {peer}" if prior else peer),
            ("X-Forwarded-Host", request.host),
            ("X-Forwarded-Port", str(self.port)),
            ("X-Forwarded-Proto", request.scheme),
            ("X-Real-IP", peer),
        ]
        url = f"http://127.0.0.1:{port}{request.raw_path}"
        body = request.content if request.body_exists else None
        try:
            upstream = await self._session.request(
                request.method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                skip_auto_headers=("User-Agent",),
            )
        except aiohttp.ClientError as exc:
            log.warning("gateway: %s %s -> :%d failed: %s", request.method, request.path, port, exc)
            return web.Response(status=502, text="502 Bad Gateway\n")
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in _HOP and key.lower() != "content-length":
                    response.headers.add(key, value)
            if upstream.content_length is not None:
                response.content_length = upstream.content_length
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
        return response
