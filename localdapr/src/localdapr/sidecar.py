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
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import aiohttp
import grpc
from aiohttp import web
from dapr.proto.runtime.v1 import dapr_pb2_grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from yarl import URL

from .config import Configuration, Resources
from .tracing import SpanContext, Tracing, header_value, parse_traceparent

if TYPE_CHECKING:
    from .runtime import LocalDapr

log = logging.getLogger("localdapr")

# The header (HTTP) and metadata key (gRPC) that carry Dapr's API tokens.
API_TOKEN_HEADER = "dapr-api-token"
# What daprd serves without a token (pkg/api/http/middlewares.go isRouteExcludedFromAPITokenAuth):
# GET of these paths, compared with their slashes trimmed.
TOKEN_EXEMPT_PATHS = ("v1.0/healthz", "v1.0/healthz/outbound")

# Go's http.StatusText, for the statuses localdapr turns into gRPC errors.
HTTP_STATUS_TEXT = {s.value: s.phrase for s in HTTPStatus}
# dapr/dapr pkg/messaging/v1 CodeFromHTTPStatus (anything else non-2xx is UNKNOWN).
_GRPC_CODE_OF_HTTP = {
    408: grpc.StatusCode.CANCELLED,
    500: grpc.StatusCode.UNKNOWN,
    400: grpc.StatusCode.INTERNAL,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ALREADY_EXISTS,
    403: grpc.StatusCode.PERMISSION_DENIED,
    401: grpc.StatusCode.UNAUTHENTICATED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
}


def grpc_code_of_http(status: int) -> grpc.StatusCode:
    return (
        grpc.StatusCode.OK if 200 <= status < 300 else _GRPC_CODE_OF_HTTP.get(status, grpc.StatusCode.UNKNOWN)
    )


def status_from_http(status: int, detail: str) -> grpc.Status:
    """pkg/messaging/v1 ErrorFromHTTPResponseCode: the gRPC code of an HTTP status, the status
    text as message, and an ErrorInfo holding the code and (up to 63 characters of) the detail."""
    text = HTTP_STATUS_TEXT.get(status, "")
    info = error_details_pb2.ErrorInfo(
        reason=text,
        domain="dapr.io",
        metadata={"http.code": str(status), "http.error_message": detail[:63]},
    )
    packed = any_pb2.Any()
    packed.Pack(info)
    code = grpc_code_of_http(status).value[0]
    return rpc_status.to_status(status_pb2.Status(code=code, message=text, details=[packed]))


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


# Where an HTTP API request keeps its span (see request_span).
SPAN_KEY = "localdapr.span"


def request_span(sidecar: Sidecar, request: web.Request) -> SpanContext | None:
    """The request's span: set by the trace middleware, else made here (the middleware is off
    when samplingRate is 0, but the API still starts spans)."""
    if SPAN_KEY in request:
        span: SpanContext | None = request[SPAN_KEY]
        return span
    parent = parse_traceparent(request.headers.get("traceparent"), request.headers.get("tracestate"))
    return sidecar.tracing.span(parent)


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
    """pkg/api/grpc/auth.go: every call needs the token in its metadata; a refusal is the
    401 of ErrorFromHTTPResponseCode with auth.go's reason as the detail."""

    def __init__(self, token: str) -> None:
        self._token = token

    def _denial(self, detail: str, streaming: bool) -> grpc.RpcMethodHandler:
        status = status_from_http(401, detail)

        async def deny(request: Any, context: grpc.aio.ServicerContext) -> None:
            await context.abort(status.code, status.details, trailing_metadata=status.trailing_metadata)

        if streaming:
            return grpc.unary_stream_rpc_method_handler(deny)
        return grpc.unary_unary_rpc_method_handler(deny)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        tokens = [v for k, v in details.invocation_metadata or () if k == API_TOKEN_HEADER]
        handler = await continuation(details)
        if tokens and tokens[0] == self._token:
            return handler
        detail = (
            "missing api token in request metadata"
            if not tokens
            else "authentication error: api token mismatch"
        )
        return self._denial(detail, handler is not None and handler.response_streaming)


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
async def _clean_path_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
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
    def __init__(self, options: SidecarOptions, runtime: LocalDapr) -> None:
        from .blocks import BLOCKS  # late import: blocks import this module

        self.options = options
        self.runtime = runtime
        self.app_id = options.app_id
        config = options.configuration
        self.tracing = Tracing.from_spec((config.spec if config else {}).get("tracing"))
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

        # In daprd's order: tracing, then the token check, then routing on the cleaned path.
        middlewares = [self._trace_middleware] if self.tracing.middleware else []
        middlewares += [self._token_middleware] if o.api_token else []
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
    async def _trace_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
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

    @web.middleware
    async def _token_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # pkg/api/http/middlewares.go APITokenAuthMiddleware: Go's http.Error, a text body.
        exempt = request.method == "GET" and request.path.strip("/") in TOKEN_EXEMPT_PATHS
        if request.headers.get(API_TOKEN_HEADER) != self.options.api_token and not exempt:
            return web.Response(
                status=401,
                text="invalid api token\n",
                headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
            )
        return await handler(request)
