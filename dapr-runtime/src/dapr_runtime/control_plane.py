"""Placement and scheduler, as `dapr init` runs them (the CLI never starts them).

Workflows need both in 1.18: placement places the workflow actors (without it
daprd disables actors, so workflows never run), and reminders, which drive
workflow timers and activities, live only in the scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    name = ""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def flags(self) -> list[str]:
        raise NotImplementedError

    def start(self, cwd: Path | None = None) -> None:
        healthz = free_port()
        argv: list[str | Path] = [
            self.runtime.bin(self.name),
            *("--port", str(self.port), "--listen-address", "127.0.0.1"),
            # placement, scheduler and daprd all default healthz to 8080 and metrics to 9090
            *("--healthz-port", str(healthz), "--metrics-port", str(free_port())),
            *self.flags(),
        ]
        self.server = Managed(self.name, argv, self.log_dir / f"{self.name}.log", echo=self.echo, cwd=cwd)
        self.server.start()
        self.server.wait_until(http_ok(f"http://127.0.0.1:{healthz}/healthz"), "healthy", timeout=90)


@dataclass
class Placement(_ControlPlane):
    name = "placement"

    def flags(self) -> list[str]:
        return [f"--initial-cluster=dapr-placement-0=127.0.0.1:{free_port()}", "--tls-enabled=false"]


@dataclass
class Scheduler(_ControlPlane):
    data_dir: Path = Path("scheduler")  # its embedded etcd: jobs and reminders survive a restart
    name = "scheduler"

    def flags(self) -> list[str]:
        return [
            *("--etcd-data-dir", str(self.data_dir), "--etcd-client-port", str(free_port())),
            *("--etcd-initial-cluster", f"dapr-scheduler-server-0=http://127.0.0.1:{free_port()}"),
            *("--override-broadcast-host-port", self.address),
        ]

    def start(self, cwd: Path | None = None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        super().start(cwd=self.data_dir)  # its default data folder is relative to the working folder
