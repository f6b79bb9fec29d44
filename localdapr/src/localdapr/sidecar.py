"""One sidecar: the Dapr gRPC and HTTP APIs for one app id.

A sidecar is assembled from building blocks (state, pub/sub, invocation,
metadata/health, workflows). Each block contributes gRPC methods of the
`dapr.proto.runtime.v1.Dapr` service, extra gRPC services, HTTP routes, and
start/stop hooks; the sidecar serves them on its own two ports, as daprd does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import grpc
from aiohttp import web
from dapr.proto.runtime.v1 import dapr_pb2_grpc

from .config import Configuration, Resources

if TYPE_CHECKING:
    from .runtime import LocalDapr

log = logging.getLogger("localdapr")

# The header (HTTP) and metadata key (gRPC) that carry Dapr's API tokens.
API_TOKEN_HEADER = "dapr-api-token"
# Routes daprd serves without a token (pkg/http/api.go: healthz is token-exempt).
TOKEN_EXEMPT_PATHS = ("/v1.0/healthz",)


@dataclass(frozen=True)
class SidecarOptions:
    app_id: str
    grpc_port: int
    http_port: int
    resources: Resources
    app_port: int | None = None
    app_host: str = "127.0.0.1"
    configuration: Configuration | None = None
    api_token: str | None = None  # DAPR_API_TOKEN: required on this sidecar's API
    app_api_token: str | None = None  # APP_API_TOKEN: sent to the app on every call


class Block:
    """A building block's contribution to one sidecar; override what applies."""

    def __init__(self, sidecar: Sidecar) -> None:
        self.sidecar = sidecar

    def dapr_methods(self) -> dict[str, Callable[..., Any]]:
        """Methods of the `Dapr` gRPC service, by name (e.g. "GetState")."""
        return {}

    def grpc_services(self) -> list[Callable[[grpc.aio.Server], None]]:
        """Functions that add further gRPC services to the server."""
        return []

    def http_routes(self) -> list[web.RouteDef]:
        return []

    async def start(self) -> None:
        """Called once both servers listen."""

    async def stop(self) -> None:
        """Called before the servers stop."""


class _TokenInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, token: str) -> None:
        self._token = token

        async def deny(request: Any, context: grpc.aio.ServicerContext) -> None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "authentication error: api token mismatch")

        self._deny = grpc.unary_unary_rpc_method_handler(deny)
        self._deny_stream = grpc.unary_stream_rpc_method_handler(deny)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        metadata = dict(details.invocation_metadata or ())
        if metadata.get(API_TOKEN_HEADER) == self._token:
            return await continuation(details)
        handler = await continuation(details)
        if handler is not None and handler.response_streaming:
            return self._deny_stream
        return self._deny


class Sidecar:
    def __init__(self, options: SidecarOptions, runtime: LocalDapr) -> None:
        from .blocks import BLOCKS  # late import: blocks import this module

        self.options = options
        self.runtime = runtime
        self.app_id = options.app_id
        self.blocks: list[Block] = [block(self) for block in BLOCKS]
        self.http: aiohttp.ClientSession | None = None  # the app channel
        self._grpc: grpc.aio.Server | None = None
        self._http_runner: web.AppRunner | None = None

    # -- the app channel -------------------------------------------------
    @property
    def app_base_url(self) -> str | None:
        o = self.options
        return f"http://{o.app_host}:{o.app_port}" if o.app_port else None

    def app_headers(self) -> dict[str, str]:
        """Headers daprd adds to every call into the app."""
        if self.options.app_api_token:
            return {API_TOKEN_HEADER: self.options.app_api_token}
        return {}

    def block(self, kind: type[Block]) -> Block:
        return next(b for b in self.blocks if isinstance(b, kind))

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        o = self.options
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=5))
        interceptors = [_TokenInterceptor(o.api_token)] if o.api_token else []
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

        app = web.Application(middlewares=[self._token_middleware] if o.api_token else [])
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
    async def _token_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith(TOKEN_EXEMPT_PATHS):
            return await handler(request)
        if request.headers.get(API_TOKEN_HEADER) != self.options.api_token:
            return web.json_response(
                {"errorCode": "ERR_UNAUTHORIZED", "message": "authentication error: api token mismatch"},
                status=401,
            )
        return await handler(request)
