"""Placement and scheduler, as `dapr init` runs them (the CLI never starts them).

Workflows need both in 1.18: placement places the workflow actors (without it
daprd disables actors, so workflows never run), and reminders, which drive
workflow timers and activities, live only in the scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .binaries import Runtime
from .processes import Managed, free_port, http_ok


@dataclass
class Placement:
    runtime: Runtime
    log_dir: Path
    port: int
    echo: bool = False
    server: Managed | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        healthz = free_port()
        argv = [
            self.runtime.bin("placement"),
            *("--port", str(self.port), "--listen-address", "127.0.0.1"),
            # placement, scheduler and daprd all default healthz to 8080 and metrics to 9090
            *("--healthz-port", str(healthz), "--metrics-port", str(free_port())),
            *("--initial-cluster", f"dapr-placement-0=127.0.0.1:{free_port()}"),
            "--tls-enabled=false",
        ]
        self.server = Managed("placement", argv, self.log_dir / "placement.log", echo=self.echo)
        self.server.start()
        self.server.wait_until(http_ok(f"http://127.0.0.1:{healthz}/healthz"), "healthy", timeout=60)


@dataclass
class Scheduler:
    runtime: Runtime
    log_dir: Path
    data_dir: Path  # its embedded etcd: jobs and reminders survive a restart
    port: int
    echo: bool = False
    server: Managed | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        healthz = free_port()
        argv = [
            self.runtime.bin("scheduler"),
            *("--port", str(self.port), "--listen-address", "127.0.0.1"),
            *("--healthz-port", str(healthz), "--metrics-port", str(free_port())),
            *("--etcd-data-dir", self.data_dir, "--etcd-client-port", str(free_port())),
            *("--etcd-initial-cluster", f"dapr-scheduler-server-0=http://127.0.0.1:{free_port()}"),
            *("--override-broadcast-host-port", self.address),
        ]
        self.server = Managed(
            "scheduler", argv, self.log_dir / "scheduler.log", echo=self.echo, cwd=self.data_dir
        )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.server.start()
        self.server.wait_until(http_ok(f"http://127.0.0.1:{healthz}/healthz"), "healthy", timeout=90)
