"""Placement and scheduler, as `dapr init` runs them (the CLI never starts them).

Workflows need both in 1.18: placement places the workflow actors (without it
daprd disables actors, so workflows never run), and reminders, which drive
workflow timers and activities, live only in the scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from localdapr.runner import free_port

from .binaries import Runtime
from .processes import Managed, http_ok


@dataclass
class _ControlPlane:
    runtime: Runtime
    log_dir: Path
    port: int
    echo: bool = False
    server: Managed | None = None
    # Chosen once, so a start after a crash (`kill`) comes back on the same ports.
    healthz_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    name = ""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def flags(self) -> list[str]:
        raise NotImplementedError

    def start(self, cwd: Path | None = None) -> None:
        argv: list[str | Path] = [
            self.runtime.bin(self.name),
            *("--port", str(self.port), "--listen-address", "127.0.0.1"),
            # placement, scheduler and daprd all default healthz to 8080 and metrics to 9090
            *("--healthz-port", str(self.healthz_port), "--metrics-port", str(self.metrics_port)),
            *self.flags(),
        ]
        self.server = Managed(self.name, argv, self.log_dir / f"{self.name}.log", echo=self.echo, cwd=cwd)
        self.server.start()
        healthz = f"http://127.0.0.1:{self.healthz_port}/healthz"
        self.server.wait_until(http_ok(healthz), "healthy", timeout=90)

    def kill(self) -> None:
        """`kill -9`, as a crash; `start()` brings it back on the same ports."""
        if self.server:
            self.server.kill()


@dataclass
class Placement(_ControlPlane):
    raft_port: int = field(default_factory=free_port)
    name = "placement"

    def flags(self) -> list[str]:
        return [f"--initial-cluster=dapr-placement-0=127.0.0.1:{self.raft_port}", "--tls-enabled=false"]


@dataclass
class Scheduler(_ControlPlane):
    data_dir: Path = Path("scheduler")  # its embedded etcd: jobs and reminders survive a restart
    # etcd keeps its member's peer address in data_dir: a restart must not move it.
    etcd_client_port: int = field(default_factory=free_port)
    etcd_peer_port: int = field(default_factory=free_port)
    name = "scheduler"

    def flags(self) -> list[str]:
        return [
            *("--etcd-data-dir", str(self.data_dir), "--etcd-client-port", str(self.etcd_client_port)),
            *("--etcd-initial-cluster", f"dapr-scheduler-server-0=http://127.0.0.1:{self.etcd_peer_port}"),
            *("--override-broadcast-host-port", self.address),
        ]

    def start(self, cwd: Path | None = None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        super().start(cwd=self.data_dir)  # its default data folder is relative to the working folder
