"""The local gateway: the Kubernetes ingress of `arch.homework`, on localhost.

Like an ingress with `pathType: Prefix`, a route matches whole path segments
(`/orders` matches `/orders`, `/orders/` and `/orders/7`, not `/orders7`), the
longest prefix wins (a route `=/path` is pathType Exact: that path alone, and
first), the path is not rewritten, and requests go straight to the app's port
(an ingress talks to the Service, not to the sidecar).
Anything unrouted is 404, so internal routes (`/dapr/subscribe`, pub/sub
handlers, health) stay unreachable. Bodies stream in both directions.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import aiohttp
from aiohttp import web
from yarl import URL

from localdapr.gateway_tracing import TRACE_HEADERS, GatewayTracer, tracer_from_env

log = logging.getLogger("localdapr.gateway")
# Shorter than the apps' keep-alive (uvicorn's default, 5 s), so the gateway always closes first.
KEEPALIVE_SECONDS = 2.0

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


# Characters a path segment may hold unescaped (RFC 3986 pchar), besides unreserved ones.
_PATH_SAFE = "/:@!$&'()*+,;=~"


def normalize_path(path: str) -> str:
    """Resolve `.` and `..` segments (RFC 3986 §5.2.4) of a decoded path.

    An ingress normalises the path before it matches a location, and so must
    this gateway: `/stock/%2e%2e/events/...` is `/events/...`, an internal
    route, not something under `/stock`.
    """
    segments = path.split("/")[1:]
    out: list[str] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment in (".", ".."):
            if segment == ".." and out:
                out.pop()
            if last:
                out.append("")  # "/a/b/.." is the folder "/a/"
        else:
            out.append(segment)
    return "/" + "/".join(out)


def match_route(routes: dict[str, int], path: str) -> int | None:
    """The upstream port for `path`: an exact route (`=/path`, pathType Exact) first,
    then the longest prefix matching on segment boundaries."""
    if f"={path}" in routes:
        return routes[f"={path}"]
    prefixes = [p for p in routes if not p.startswith("=")]
    matching = [p for p in prefixes if p == "/" or path == p or path.startswith(p + "/")]
    return routes[max(matching, key=len)] if matching else None


class Gateway:
    def __init__(
        self,
        routes: dict[str, int],
        host: str = "127.0.0.1",
        port: int = 8080,
        tracer: GatewayTracer | None = None,
    ) -> None:
        self.routes = routes  # public prefix -> app port
        self.host = host
        self.port = port
        self.tracer = tracer if tracer is not None else tracer_from_env()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # No total timeout: responses may stream for as long as the app wants. An idle
        # connection is dropped before uvicorn drops it (after 5 s): one the app is closing,
        # if reused, fails a request it never read, and a POST is not sent again (a 502).
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
            auto_decompress=False,
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
        if self.tracer:
            self.tracer.shutdown()

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        path = normalize_path(request.path)
        port = match_route(self.routes, path)
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
        if self.tracer is None:
            return await self._forward(request, path, port, headers)
        with self.tracer.span(request.method, path, request.headers) as (span, carrier):
            headers = [(k, v) for k, v in headers if k.lower() not in TRACE_HEADERS] + list(carrier.items())
            response = await self._forward(request, path, port, headers)
            span.set_attribute("http.response.status_code", response.status)
            return response

    async def _forward(
        self, request: web.Request, path: str, port: int, headers: list[tuple[str, str]]
    ) -> web.StreamResponse:
        assert self._session is not None
        # Forward exactly the path that was matched, already encoded, so nothing
        # downstream can resolve it into another route.
        raw_query = request.rel_url.raw_query_string  # still percent-encoded, as the client sent it
        query = f"?{raw_query}" if raw_query else ""
        url = URL(f"http://127.0.0.1:{port}{quote(path, safe=_PATH_SAFE)}{query}", encoded=True)
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
            log.warning("gateway: %s %s -> :%d failed: %s", request.method, path, port, exc)
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
