"""What one sidecar is started with."""

from __future__ import annotations

from dataclasses import dataclass

from .config import Configuration, Resources


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
