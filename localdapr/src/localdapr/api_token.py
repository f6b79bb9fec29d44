"""The API token (DAPR_API_TOKEN) a sidecar can require on its gRPC and HTTP APIs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from aiohttp import web
from aiohttp.typedefs import Middleware

from .http_status import status_from_http

# The header (HTTP) and metadata key (gRPC) that carry Dapr's API tokens.
API_TOKEN_HEADER = "dapr-api-token"
# What daprd serves without a token (pkg/api/http/middlewares.go isRouteExcludedFromAPITokenAuth):
# GET of these paths, compared with their slashes trimmed.
TOKEN_EXEMPT_PATHS = ("v1.0/healthz", "v1.0/healthz/outbound")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TokenInterceptor(grpc.aio.ServerInterceptor):
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


def token_middleware(token: str) -> Middleware:
    """pkg/api/http/middlewares.go APITokenAuthMiddleware: Go's http.Error, a text body."""

    @web.middleware
    async def check_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        exempt = request.method == "GET" and request.path.strip("/") in TOKEN_EXEMPT_PATHS
        if request.headers.get(API_TOKEN_HEADER) != token and not exempt:
            return web.Response(
                status=401,
                text="invalid api token\n",
                headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
            )
        return await handler(request)

    return check_token
