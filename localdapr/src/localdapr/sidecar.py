"""One sidecar: the Dapr gRPC and HTTP APIs for one app id.

A sidecar serves what its building blocks contribute (see block.py) on its own two
ports, as daprd does. It is handed its blocks (runtime.py builds them) and is their
`Host`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TypeVar

import aiohttp
import grpc
from aiohttp import web
from aiohttp.typedefs import Middleware
from dapr.proto.runtime.v1 import dapr_pb2_grpc
from yarl import URL

from .api_token import API_TOKEN_HEADER, TokenInterceptor, token_middleware
from .block import Block
from .options import SidecarOptions
from .tracing import SPAN_KEY, Tracing, header_value, parse_traceparent

log = logging.getLogger("localdapr")

B = TypeVar("B", bound=Block)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def clean_path(path: str) -> str:
    """Go's path.Clean: one slash between elements, no `.` elements, `..` resolved, no
    trailing slash (the root stays `/`)."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


@web.middleware
async def _clean_path_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """daprd's router matches the cleaned escaped path (pkg/api/http/middlewares.go
    CleanPathMiddleware, StripSlashesMiddleware): `/v1.0//healthz/` is `/v1.0/healthz`.
    The innermost middleware, so a request routed again skips nothing."""
    raw = request.rel_url.raw_path
    cleaned = clean_path(raw)
    if cleaned == raw:
        return await handler(request)
    url = URL.build(path=cleaned, query_string=request.rel_url.raw_query_string, encoded=True)
    clone = request.clone(rel_url=url)
    match = await request.app.router.resolve(clone)
    match.add_app(request.app)
    clone._match_info = match  # what aiohttp's own dispatch sets on a routed request
    return await match.handler(clone)


class Sidecar:
    """Serves one app id; implements block.Host for its blocks."""

    def __init__(
        self,
        options: SidecarOptions,
        blocks: Callable[[Sidecar], list[Block]],
        directory: MutableMapping[str, Sidecar],
    ) -> None:
        """`blocks` builds this sidecar's blocks, in start order, around it; `directory` holds
        every running sidecar of the process by app id (for invocation and shutdown)."""
        self.options = options
        self.app_id = options.app_id
        self._directory = directory
        config = options.configuration
        self.tracing = Tracing.from_spec((config.spec if config else {}).get("tracing"))
        self.http: aiohttp.ClientSession | None = None  # the app channel
        self._grpc: grpc.aio.Server | None = None
        self._http_runner: web.AppRunner | None = None
        self.blocks: list[Block] = blocks(self)

    # -- what blocks use (block.Host) ----------------------------------------
    @property
    def app_base_url(self) -> str | None:
        o = self.options
        return f"http://{o.app_host}:{o.app_port}" if o.app_port else None

    def app_headers(self) -> dict[str, str]:
        """Headers daprd adds to every call into the app."""
        if self.options.app_api_token:
            return {API_TOKEN_HEADER: self.options.app_api_token}
        return {}

    def peer(self, app_id: str) -> Sidecar | None:
        return self._directory.get(app_id)

    async def shut_down(self) -> None:
        self._directory.pop(self.app_id, None)
        await self.stop()

    def block(self, kind: type[B]) -> B:
        return next(b for b in self.blocks if isinstance(b, kind))

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        o = self.options
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=5))
        interceptors = [TokenInterceptor(o.api_token)] if o.api_token else []
        server = grpc.aio.server(
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", 16 * 1024 * 1024),
                ("grpc.max_send_message_length", 16 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
            ],
        )
        servicer = dapr_pb2_grpc.DaprServicer()
        for block in self.blocks:
            for name, method in block.dapr_methods().items():
                setattr(servicer, name, method)
            for add in block.grpc_services():
                add(server)
        dapr_pb2_grpc.add_DaprServicer_to_server(servicer, server)
        server.add_insecure_port(f"127.0.0.1:{o.grpc_port}")
        await server.start()
        self._grpc = server

        # In daprd's order: tracing, then the token check, then routing on the cleaned path.
        middlewares: list[Middleware] = [self._trace_middleware] if self.tracing.middleware else []
        middlewares += [token_middleware(o.api_token)] if o.api_token else []
        app = web.Application(middlewares=[*middlewares, _clean_path_middleware])
        for block in self.blocks:
            app.add_routes(block.http_routes())
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", o.http_port, reuse_port=False).start()
        self._http_runner = runner

        for block in self.blocks:
            await block.start()
        log.info("sidecar %s: gRPC :%d, HTTP :%d", self.app_id, o.grpc_port, o.http_port)

    async def stop(self) -> None:
        for block in reversed(self.blocks):
            try:
                await block.stop()
            except Exception:  # one block failing to stop must not leave the ports open
                log.exception("sidecar %s: stopping %s failed", self.app_id, type(block).__name__)
        if self._grpc:
            await self._grpc.stop(grace=0.5)
        if self._http_runner:
            await self._http_runner.cleanup()
        if self.http:
            await self.http.close()

    @web.middleware
    async def _trace_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """diagnostics HTTPTraceMiddleware: each API request gets a span (request_span) whose
        context the response carries as `traceparent` unless it has one; not for healthz."""
        if "/healthz" in request.path:
            return await handler(request)
        parent = parse_traceparent(request.headers.get("traceparent"), request.headers.get("tracestate"))
        span = self.tracing.span(parent)
        request[SPAN_KEY] = span
        response = await handler(request)
        if not response.prepared and "traceparent" not in response.headers:
            response.headers["traceparent"] = header_value(span)
            if span is not None and span.state:
                response.headers["tracestate"] = span.state
        return response
