"""Service invocation: `/v1.0/invoke/{app-id}/method/{method}` and gRPC `InvokeService`.

Mirrors dapr/dapr `pkg/api/http/directmessaging.go` and `pkg/messaging`: the
caller's sidecar finds the target's sidecar, the callee applies its access
control policy, then the call reaches the target app with the verb, path,
query string, headers and body as sent, plus `dapr-caller-app-id`,
`dapr-callee-app-id` and the target's APP_API_TOKEN. The app's status, headers
and body come back unchanged; failures to reach it are `ERR_DIRECT_INVOKE`.
All sidecars live in one process, so "sidecar to sidecar" is a lookup (`Host.peer`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import aiohttp
import grpc
from aiohttp import web
from dapr.proto.common.v1 import common_pb2
from google.protobuf import any_pb2

from .api_token import API_TOKEN_HEADER
from .block import Block, Host
from .config import Configuration, RetryPolicy
from .http_status import status_from_http
from .tracing import SpanContext, header_value, parse_grpc_metadata, request_span

log = logging.getLogger("localdapr.invoke")

APP_ID_HEADER = "dapr-app-id"
CALLER_HEADER = "dapr-caller-app-id"
CALLEE_HEADER = "dapr-callee-app-id"
CALLER_NAMESPACE_HEADER = "dapr-caller-namespace"
NAMESPACE = "default"  # self-hosted daprd's namespace unless NAMESPACE is set
# Never forwarded: connection-level headers, and what the sidecar itself consumes.
_DROP_REQUEST = {
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "upgrade",
    "content-length",
    API_TOKEN_HEADER,  # the caller's token is for its own sidecar, not the target app
    APP_ID_HEADER,
    # set by the sidecar, replacing what the caller sent (direct_messaging.go)
    CALLER_HEADER,
    CALLEE_HEADER,
    CALLER_NAMESPACE_HEADER,
    "traceparent",
    "tracestate",
}
# The body is re-framed (and decompressed by the client), so framing headers are recomputed.
_DROP_RESPONSE = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}
_INVOKE_PATH = re.compile(r"^/v1\.0/invoke/([^/]+)/method/(.*)$", re.DOTALL)
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _forwarded_headers() -> list[tuple[str, str]]:
    """direct_messaging.go addForwardedHeadersToMetadata: the sidecar's host address
    (DAPR_HOST_IP, which `dapr run` sets to 127.0.0.1) and host name, as X-Forwarded-For,
    X-Forwarded-Host and an RFC 7239 Forwarded."""
    address = os.environ.get("DAPR_HOST_IP") or "127.0.0.1"
    forwarded_address = f'"[{address}]"' if ":" in address else address
    host = socket.gethostname()
    return [
        ("X-Forwarded-For", address),
        ("X-Forwarded-Host", host),
        ("Forwarded", f"for={forwarded_address};by={forwarded_address};host={host}"),
    ]


def canonical_header(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: daprd's HTTP client and server keep header names in
    this form (`x-echo-reply` -> `X-Echo-Reply`); a name with other characters stays as it is."""
    if not name or not _TOKEN_CHARS.issuperset(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


class InvokeError(Exception):
    """A failure daprd reports as ERR_DIRECT_INVOKE."""

    def __init__(
        self, target: str, reason: str, status: int = 500, code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    ):
        super().__init__(f"failed to invoke, id: {target}, err: {reason}")
        self.status = status
        self.code = code

    def response(self) -> web.Response:
        return web.json_response({"errorCode": "ERR_DIRECT_INVOKE", "message": str(self)}, status=self.status)


@dataclass
class AppResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    content_type: str


# -- access control (dapr/dapr pkg/acl) ------------------------------------------


def access_allowed(config: Configuration | None) -> bool:
    """The callee's `accessControl` decision (pkg/acl ParseAccessControlSpec and
    ApplyAccessControlPolicies). A policy matches a caller by the SPIFFE id of its mTLS
    certificate; without mTLS there is none (localdapr has no mTLS, and neither has daprd run
    standalone without Sentry), so the global default action decides for every caller, as the
    docs' policy rule 4 says (invoke-allowlist: "if the incoming app credentials cannot be
    verified, then the global default action takes effect")."""
    spec = (config.spec.get("accessControl") if config else None) or {}
    policies = spec.get("policies")
    if not (spec.get("trustDomain") or spec.get("defaultAction") or policies):
        return True  # no access control at all
    # No global default: deny when policies are given, or not given at all; allow for `[]`.
    default = "deny" if policies is None or len(policies) > 0 else "allow"
    return str(spec.get("defaultAction") or default).lower() == "allow"


# -- the invocation itself -------------------------------------------------------


class InvokeBlock(Block):
    def http_routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/v1.0/invoke/{target}/method/{method:.*}", self._http_invoke)]

    def dapr_methods(self) -> dict[str, Any]:
        return {"InvokeService": self._grpc_invoke}

    async def _http_invoke(self, request: web.Request) -> web.StreamResponse:
        # Use the raw path so the method reaches the app encoded exactly as the caller sent it.
        m = _INVOKE_PATH.match(request.raw_path.split("?", 1)[0])
        if not m:
            return InvokeError(
                "", "failed getting app id either from the URL path or the header dapr-app-id", 404
            ).response()
        return await self.forward(request, unquote(m.group(1)), m.group(2))

    async def forward(self, request: web.Request, target: str, method: str) -> web.StreamResponse:
        """Proxy one HTTP request to app `target` (also used by the `dapr-app-id` header form)."""
        try:
            resp = await self.invoke(
                target,
                method,
                request.method.upper(),
                request.query_string,
                list(request.headers.items()),
                await request.read(),
                request_span(self.sidecar.tracing, request),
            )
        except InvokeError as exc:
            return exc.response()
        out = web.Response(status=resp.status, body=resp.body)
        for key, value in resp.headers:
            if key.lower() not in _DROP_RESPONSE:
                out.headers.add(canonical_header(key), value)
        return out

    async def invoke(
        self,
        target: str,
        method: str,
        verb: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        span: SpanContext | None,
        grpc_api: bool = False,
    ) -> AppResponse:
        """`span`: the caller's API span; the callee's sidecar starts its own below it.
        `grpc_api`: called through gRPC InvokeService, whose retries differ (see below)."""
        caller = self.sidecar.app_id
        callee: Host | None = self.sidecar.peer(target)
        if callee is None:
            raise InvokeError(target, f"couldn't find service: {target}")
        if not access_allowed(callee.options.configuration):
            # The id is the caller's SPIFFE id, empty without mTLS.
            raise InvokeError(
                target,
                "rpc error: code = PermissionDenied desc = access control policy has denied access to "
                f"id:  operation: {unquote(method)} verb: {verb}",
                403,
                grpc.StatusCode.PERMISSION_DENIED,
            )
        if callee.app_base_url is None or callee.http is None:
            raise InvokeError(target, "app channel is not initialized (the app has no appPort)")
        url = f"{callee.app_base_url}/{method}" + (f"?{query}" if query else "")
        callee_span = callee.tracing.span(span)
        out = [(k, v) for k, v in headers if k.lower() not in _DROP_REQUEST]
        out += [(CALLER_HEADER, caller), (CALLEE_HEADER, target), (CALLER_NAMESPACE_HEADER, NAMESPACE)]
        out += [
            *callee.app_headers().items(),
            *_forwarded_headers(),
            ("traceparent", header_value(callee_span)),
        ]
        if callee_span is not None and callee_span.state:
            out.append(("tracestate", callee_span.state))
        out = [(canonical_header(k), v) for k, v in out]
        timeout, retry = self._policies(target)
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = await asyncio.wait_for(self._send(callee.http, verb, url, out, body), timeout)
            except (aiohttp.ClientError, OSError) as exc:
                failure: InvokeError | AppResponse = InvokeError(target, str(exc) or type(exc).__name__)
            except TimeoutError:
                failure = InvokeError(target, "context deadline exceeded (resiliency timeout)")
            else:
                # HTTP (directmessaging.go): a status outside 200-399 fails as a CodeError, which
                # only the retry's `matching` codes retry. gRPC (grpc.go InvokeService): any non-2xx
                # fails as a gRPC status error, which carries no CodeError, so every one is retried.
                if 200 <= resp.status <= (299 if grpc_api else 399) or retry is None:
                    return resp
                if not grpc_api and not retry.retries_code(resp.status):
                    return resp
                failure = resp
            if retry is None or retry.exhausted(attempt):
                if isinstance(failure, InvokeError):
                    raise failure
                return failure
            await asyncio.sleep(retry.delay(attempt))

    @staticmethod
    async def _send(
        session: aiohttp.ClientSession, verb: str, url: str, headers: list[tuple[str, str]], body: bytes
    ) -> AppResponse:
        async with session.request(verb, url, headers=headers, data=body or None, allow_redirects=False) as r:
            data = await r.read()
            return AppResponse(r.status, list(r.headers.items()), data, r.headers.get("content-type", ""))

    def _policies(self, target: str) -> tuple[float | None, RetryPolicy | None]:
        """The caller's Resiliency timeout and retry for app `target`, if any."""
        timeout: float | None = None
        retry: RetryPolicy | None = None
        for res in self.sidecar.options.resources.resiliencies:
            if res.visible_to(self.sidecar.app_id):
                timeout = timeout or res.app_timeout(target)
                retry = retry or res.app_retry(target)
        return timeout, retry

    # -- gRPC InvokeService (dapr/dapr pkg/api/grpc: HTTP status mapped to a gRPC code) --
    async def _grpc_invoke(
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> common_pb2.InvokeResponse:
        msg = request.message
        verb = common_pb2.HTTPExtension.Verb.Name(msg.http_extension.verb)
        verb = "POST" if verb == "NONE" else verb
        metadata = context.invocation_metadata() or ()
        headers = [(k, v) for k, v in metadata if not k.startswith(":") and not k.endswith("-bin")]
        if msg.content_type:
            headers.append(("content-type", msg.content_type))
        span = self.sidecar.tracing.span(parse_grpc_metadata(dict(metadata)))
        try:
            resp = await self.invoke(
                request.id,
                msg.method,
                verb,
                msg.http_extension.querystring,
                headers,
                msg.data.value,
                span,
                grpc_api=True,
            )
        except InvokeError as exc:
            await context.abort(exc.code, str(exc))
        # grpc.go InvokeService: the app's status as a header; a non-2xx one becomes messaging's
        # ErrorFromHTTPResponseCode (the status text, the body as ErrorInfo detail).
        await context.send_initial_metadata((("dapr-http-status", str(resp.status)),))
        if not 200 <= resp.status <= 299:
            status = status_from_http(resp.status, resp.body.decode("utf-8", "replace"))
            await context.abort(status.code, status.details, trailing_metadata=status.trailing_metadata)
        return common_pb2.InvokeResponse(data=any_pb2.Any(value=resp.body), content_type=resp.content_type)
