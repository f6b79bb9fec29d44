"""One daprd, started with the flags and environment `dapr run` gives it
(dapr/cli `pkg/standalone/run.go`), on this run's placement and scheduler."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from localdapr.runner import free_port

from .binaries import Runtime
from .processes import Managed, http_ok


@dataclass
class Daprd:
    runtime: Runtime
    app_id: str
    app_port: int | None
    resources: Path
    config: Path
    placement: str
    scheduler: str
    log_dir: Path
    http_port: int
    grpc_port: int
    internal_grpc_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)  # DAPR_API_TOKEN, APP_API_TOKEN, ...
    echo: bool = False
    server: Managed | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def argv(self) -> list[str]:
        """The CLI's flags for a run-file app, in its order (dapr/cli v1.18.0 getArgsFromSchema),
        with one deliberate addition: the Dapr APIs listen on loopback only."""
        return [
            str(self.runtime.bin("daprd")),
            *("--config", str(self.config), "--app-protocol", "http"),
            *("--dapr-listen-addresses", "127.0.0.1", "--app-max-concurrency", "-1"),
            *("--placement-host-address", self.placement, "--resources-path", str(self.resources)),
            *("--max-body-size", "4Mi", "--read-buffer-size", "4Ki"),
            *("--scheduler-host-address", self.scheduler, "--app-id", self.app_id),
            *("--app-port", str(self.app_port or 0)),
            *("--dapr-http-port", str(self.http_port), "--dapr-grpc-port", str(self.grpc_port)),
            *("--profile-port", "-1", "--metrics-port", str(self.metrics_port)),
            *("--dapr-internal-grpc-port", str(self.internal_grpc_port)),
        ]

    def start(self) -> None:
        env = {**os.environ, **self.env}
        env.setdefault("DAPR_HOST_IP", "127.0.0.1")  # as the CLI: name resolution advertises loopback
        self.server = Managed(
            f"daprd {self.app_id}",
            self.argv(),
            self.log_dir / f"daprd-{self.app_id}.log",
            env=env,
            echo=self.echo,
        )
        self.server.start()

    def wait_outbound(self, timeout: float = 60) -> None:
        """Its APIs answer (the app may still be starting)."""
        assert self.server is not None
        self.server.wait_until(
            http_ok(f"{self.http_url}/v1.0/healthz/outbound"), "its API answering", timeout
        )

    def wait_healthy(self, timeout: float = 90) -> None:
        """Initialised, with its app channel open."""
        assert self.server is not None
        self.server.wait_until(http_ok(f"{self.http_url}/v1.0/healthz"), "healthy", timeout)
