"""What a building block is, and the narrow view of its sidecar that it gets.

A block contributes gRPC methods of the `dapr.proto.runtime.v1.Dapr` service, extra
gRPC services, HTTP routes and start/stop hooks. It sees its sidecar only through
`Host`, so blocks depend on this module and never on the sidecar or on each other's
wiring (the composition root, runtime.py, hands each block what it shares).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import aiohttp
import grpc
from aiohttp import web

from .options import SidecarOptions
from .tracing import Tracing


class Host(Protocol):
    """What blocks use of their sidecar."""

    @property
    def app_id(self) -> str: ...

    @property
    def options(self) -> SidecarOptions: ...

    @property
    def tracing(self) -> Tracing: ...

    @property
    def http(self) -> aiohttp.ClientSession | None:
        """The app channel's session (None until the sidecar starts)."""

    @property
    def app_base_url(self) -> str | None: ...

    @property
    def blocks(self) -> Sequence[Block]: ...

    def app_headers(self) -> dict[str, str]:
        """Headers daprd adds to every call into the app."""

    def peer(self, app_id: str) -> Host | None:
        """The running sidecar of app `app_id` in this process (this one included)."""

    async def shut_down(self) -> None:
        """Leave the process's sidecars and stop, as daprd exits on /v1.0/shutdown."""


class Block:
    """A building block's contribution to one sidecar; override what applies."""

    def __init__(self, sidecar: Host) -> None:
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
