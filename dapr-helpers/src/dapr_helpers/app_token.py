"""The app side of Dapr's app API token: only the sidecar may call the internal routes.

With `APP_API_TOKEN` set, the sidecar sends it as `dapr-api-token` on every call
into the app (pub/sub deliveries, `/dapr/subscribe`, invocations), and Dapr
recommends the app check it. The check covers every route outside the public
prefix, so a new internal route is guarded without being listed. The public API
stays open: it is what the ingress serves. `/healthz` and `/readyz` stay open
too, for the kubelet's probes, which carry no token, and so does `/metrics`, for
Prometheus (counts with bounded labels: no order, no login).
"""

import hmac
import os

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from dapr_helpers.problems import problem_response

APP_TOKEN_HEADER = "dapr-api-token"
OPEN_PATHS = ("/healthz", "/readyz", "/metrics")


def is_open(
    path: str, public_prefix: str | tuple[str, ...], open_paths: tuple[str, ...] = OPEN_PATHS
) -> bool:
    """Under a public prefix (several may be given, written as in gateway.yaml: `=/` is `/` alone)."""
    prefixes = (public_prefix,) if isinstance(public_prefix, str) else public_prefix
    return path in open_paths or any(_routed(path, p) for p in prefixes)


def _routed(path: str, public_prefix: str) -> bool:
    if public_prefix.startswith("="):
        return path == public_prefix[1:]
    prefix = public_prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


class AppTokenMiddleware:
    """Refuses (401) a call to an internal route whose `dapr-api-token` is not `token`."""

    def __init__(self, app: ASGIApp, token: str, public_prefix: str | tuple[str, ...]) -> None:
        if not token:
            raise ValueError("an empty app token would let every caller in")
        self.app = app
        self.token = token.encode()
        self.public_prefix = public_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_open(scope["path"], self.public_prefix):
            sent = next((v for k, v in scope["headers"] if k == APP_TOKEN_HEADER.encode()), b"")
            if not hmac.compare_digest(sent, self.token):  # constant time: no timing oracle
                response = problem_response(
                    401, "unauthorized", f"internal route: a valid {APP_TOKEN_HEADER} header is required"
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def require_app_token(app: Starlette, public_prefix: str | tuple[str, ...], token: str | None = None) -> None:
    """Guard `app`'s internal routes with `token`, by default `APP_API_TOKEN`; unset: no check."""
    token = token if token is not None else os.environ.get("APP_API_TOKEN", "")
    if token:
        app.add_middleware(AppTokenMiddleware, token=token, public_prefix=public_prefix)
