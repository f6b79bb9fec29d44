"""Service invocation: `/v1.0/invoke/{app-id}/method/{method}` and gRPC `InvokeService`.

Mirrors dapr/dapr `pkg/api/http/directmessaging.go` and `pkg/messaging`: the
caller's sidecar finds the target's sidecar, the callee applies its access
control policy, then the call reaches the target app with the verb, path,
query string, headers and body as sent, plus `dapr-caller-app-id`,
`dapr-callee-app-id` and the target's APP_API_TOKEN. The app's status, headers
and body come back unchanged; failures to reach it are `ERR_DIRECT_INVOKE`.
All sidecars live in one process, so "sidecar to sidecar" is a dict lookup.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import aiohttp
import grpc
from aiohttp import web
from dapr.proto.common.v1 import common_pb2
from google.protobuf import any_pb2

from .config import Configuration, RetryPolicy
from .sidecar import API_TOKEN_HEADER, Block, Sidecar

log = logging.getLogger("localdapr.invoke")

APP_ID_HEADER = "dapr-app-id"
CALLER_HEADER = "dapr-caller-app-id"
CALLEE_HEADER = "dapr-callee-app-id"
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
}
# The body is re-framed (and decompressed by the client), so framing headers are recomputed.
_DROP_RESPONSE = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}
_INVOKE_PATH = re.compile(r"^/v1\.0/invoke/([^/]+)/method/(.*)$", re.DOTALL)


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

_TRUST_DOMAIN = "public"
_NAMESPACE = "default"  # self-hosted mode runs in the "default" namespace


def _operation_matches(pattern: str, path: str) -> bool:
    """`*` matches one path segment, `**` any number of them (Dapr's ACL wildcards)."""
    want = [p for p in pattern.lower().split("/") if p]
    have = [p for p in path.lower().split("/") if p]

    def match(i: int, j: int) -> bool:
        if i == len(want):
            return j == len(have)
        if want[i] == "**":
            return any(match(i + 1, k) for k in range(j, len(have) + 1))
        return j < len(have) and want[i] in ("*", have[j]) and match(i + 1, j + 1)

    return match(0, 0)


def access_allowed(config: Configuration | None, caller: str, method: str, verb: str) -> bool:
    """The callee's `accessControl` decision for a call from `caller`."""
    spec = (config.spec.get("accessControl") if config else None) or {}
    if not spec:
        return True
    policies = spec.get("policies") or []
    # With policies but no global default, Dapr picks the safer option: deny.
    action = str(spec.get("defaultAction") or ("deny" if policies else "allow")).lower()
    trust_domain = spec.get("trustDomain") or _TRUST_DOMAIN
    policy = next(
        (
            p
            for p in policies
            if p.get("appId") == caller
            and (p.get("trustDomain") or trust_domain) == trust_domain
            and (p.get("namespace") or _NAMESPACE) == _NAMESPACE
        ),
        None,
    )
    if policy is None:
        return action == "allow"
    action = str(policy.get("defaultAction") or action).lower()
    path = "/" + method.split("?", 1)[0].lstrip("/")
    for op in policy.get("operations") or []:
        if _operation_matches(str(op.get("name", "")), path):
            verbs = {str(v).upper() for v in op.get("httpVerb") or []}
            if verb in verbs or "*" in verbs:
                action = str(op.get("action", action)).lower()
            break
    return action == "allow"


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
            )
        except InvokeError as exc:
            return exc.response()
        out = web.Response(status=resp.status, body=resp.body)
        for key, value in resp.headers:
            if key.lower() not in _DROP_RESPONSE:
                out.headers.add(key, value)
        return out

    async def invoke(
        self, target: str, method: str, verb: str, query: str, headers: list[tuple[str, str]], body: bytes
    ) -> AppResponse:
        caller = self.sidecar.app_id
        callee: Sidecar | None = self.sidecar.runtime.sidecars.get(target)
        if callee is None:
            raise InvokeError(target, f"couldn't find service: {target}")
        if not access_allowed(callee.options.configuration, caller, unquote(method), verb):
            raise InvokeError(
                target,
                "rpc error: code = PermissionDenied desc = access control policy has denied access to "
                f"id: spiffe://{_TRUST_DOMAIN}/ns/{_NAMESPACE}/{caller} operation: {method} verb: {verb}",
                403,
                grpc.StatusCode.PERMISSION_DENIED,
            )
        if callee.app_base_url is None or callee.http is None:
            raise InvokeError(target, "app channel is not initialized (the app has no appPort)")
        url = f"{callee.app_base_url}/{method}" + (f"?{query}" if query else "")
        out = [(k, v) for k, v in headers if k.lower() not in _DROP_REQUEST]
        out += [(CALLER_HEADER, caller), (CALLEE_HEADER, target), *callee.app_headers().items()]
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
                # Resiliency counts any status outside 200-399 as a failure (directmessaging.go).
                if 200 <= resp.status <= 399 or retry is None:
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
        headers = [(k, v) for k, v in context.invocation_metadata() or () if not k.startswith(":")]
        if msg.content_type:
            headers.append(("content-type", msg.content_type))
        try:
            resp = await self.invoke(
                request.id, msg.method, verb, msg.http_extension.querystring, headers, msg.data.value
            )
        except InvokeError as exc:
            await context.abort(exc.code, str(exc))
        context.set_trailing_metadata((("dapr-http-status", str(resp.status)),))
        if not 200 <= resp.status <= 299:
            await context.abort(_grpc_code(resp.status), resp.body.decode("utf-8", "replace"))
        return common_pb2.InvokeResponse(data=any_pb2.Any(value=resp.body), content_type=resp.content_type)


def _grpc_code(status: int) -> grpc.StatusCode:
    """HTTP status → gRPC code, as dapr/dapr pkg/messaging/v1 CodeFromHTTPStatus."""
    return {
        400: grpc.StatusCode.INTERNAL,
        401: grpc.StatusCode.UNAUTHENTICATED,
        403: grpc.StatusCode.PERMISSION_DENIED,
        404: grpc.StatusCode.NOT_FOUND,
        409: grpc.StatusCode.ABORTED,
        429: grpc.StatusCode.UNAVAILABLE,
        499: grpc.StatusCode.CANCELLED,
        501: grpc.StatusCode.UNIMPLEMENTED,
        503: grpc.StatusCode.UNAVAILABLE,
        504: grpc.StatusCode.DEADLINE_EXCEEDED,
    }.get(status, grpc.StatusCode.UNKNOWN)
