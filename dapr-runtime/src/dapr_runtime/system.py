"""The real Dapr runtime for a set of apps: Postgres, Redis, placement, scheduler
and one daprd per app, each a process of its own that a test can kill.

Start order is the dependencies' order; stop order is its reverse, so no
sidecar outlives the servers it writes to mid-shutdown. A daprd that exits
without being asked to is started again, as Kubernetes restarts a sidecar
container: the order app relies on that when it asks a stuck sidecar to shut
down (order_app.workflow.engine_watch).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from localdapr.runner import free_port

from . import resources as res
from .binaries import Runtime, find_runtime
from .control_plane import Placement, Scheduler
from .infra import Postgres, Redis
from .processes import Managed
from .sidecar import Daprd

log = logging.getLogger("dapr_runtime")


def _traversable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents] if p.exists())


@dataclass
class DaprSystem:
    """`apps` maps app id to app port (None for a sidecar without an app)."""

    workdir: Path  # logs/, data/ (Redis, scheduler), resources/
    resource_folders: list[Path]
    apps: dict[str, int | None]
    config: Path | None = None  # the Configuration given to every daprd (default: the runtime's)
    env: dict[str, str] = field(default_factory=dict)  # DAPR_API_TOKEN / APP_API_TOKEN for the sidecars
    ports: dict[str, tuple[int, int]] = field(default_factory=dict)  # app id -> (HTTP, gRPC); else free ones
    echo: bool = False
    runtime: Runtime = field(default_factory=find_runtime)
    postgres: Postgres | None = None
    redis: Redis | None = None
    placement: Placement | None = None
    scheduler: Scheduler | None = None
    sidecars: dict[str, Daprd] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)  # app id -> daprd restarts after an exit
    _down: set[str] = field(default_factory=set)  # sidecars stopped or killed on purpose
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    def _postgres_root(self) -> Path:
        """As root, the server runs as `postgres`, which must reach its folder."""
        wanted = self.workdir / "data" / "postgres"
        if os.geteuid() != 0 or _traversable_by_others(self.workdir):
            return wanted
        link = self.workdir / "data" / "postgres-dir"
        if link.is_file():
            return Path(link.read_text().strip())
        path = Path(tempfile.mkdtemp(prefix="saga-postgres-"))
        link.parent.mkdir(parents=True, exist_ok=True)
        link.write_text(str(path))
        return path

    def start(self) -> None:
        """Everything but the sidecars' apps; on any failure, stop what started and raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.postgres = Postgres(self._postgres_root(), free_port(), self.logs, echo=self.echo)
        self.postgres.start()
        self.postgres.create_databases(sorted(res.databases(self.resource_folders)))
        self.redis = Redis(self.workdir / "data" / "redis", free_port(), self.logs, echo=self.echo)
        self.redis.start()
        self.placement = Placement(self.runtime, self.logs, free_port(), echo=self.echo)
        self.placement.start()
        self.scheduler = Scheduler(
            self.runtime, self.logs, free_port(), echo=self.echo, data_dir=self.workdir / "data" / "scheduler"
        )
        self.scheduler.start()
        folder = res.prepare(
            self.resource_folders, self.workdir / "resources", self.postgres.port, self.redis.port
        )
        config = res.with_own_name_resolution(
            self.config or self.runtime.default_config,
            self.workdir / "config.yaml",
            self.workdir / "data" / "names.db",
        )
        for app_id, app_port in self.apps.items():
            http_port, grpc_port = self.ports.get(app_id) or (free_port(), free_port())
            self.sidecars[app_id] = Daprd(
                self.runtime,
                app_id,
                app_port,
                folder,
                config,
                self.placement.address,
                self.scheduler.address,
                self.logs,
                http_port=http_port,
                grpc_port=grpc_port,
                env=self.env,
                echo=self.echo,
            )

        threading.Thread(target=self._supervise, name="daprd supervisor", daemon=True).start()

    def start_sidecar(self, app_id: str) -> None:
        with self._lock:
            self.sidecars[app_id].start()
            self._down.discard(app_id)
        self.sidecars[app_id].wait_outbound()

    def kill_sidecar(self, app_id: str) -> None:
        """`kill -9`; it stays down until `start_sidecar`."""
        with self._lock:
            self._down.add(app_id)
            server = self.sidecars[app_id].server
            assert server is not None
            server.kill()

    def part(self, name: str) -> Postgres | Redis | Placement | Scheduler:
        """A server the sidecars depend on, by name: postgres, redis, placement, scheduler."""
        parts: dict[str, Postgres | Redis | Placement | Scheduler | None] = {
            "postgres": self.postgres,
            "redis": self.redis,
            "placement": self.placement,
            "scheduler": self.scheduler,
        }
        found = parts.get(name)
        if found is None:
            raise KeyError(f"no {name!r} in this system: expected one of {', '.join(parts)}")
        return found

    def kill_part(self, name: str) -> None:
        """`kill -9` one server (`part`); it stays down until `start_part`."""
        self.part(name).kill()

    def start_part(self, name: str) -> None:
        """Start a killed server again, on its port and data, and wait until it is ready."""
        self.part(name).start()

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            with self._lock:
                for app_id, sidecar in self.sidecars.items():
                    server = sidecar.server
                    if app_id in self._down or server is None or server.alive or self._stopping.is_set():
                        continue
                    code = server.process.returncode if server.process else None
                    log.warning("daprd %s exited with code %s; starting it again", app_id, code)
                    self.restarts[app_id] = self.restarts.get(app_id, 0) + 1
                    sidecar.start()

    def processes(self) -> list[Managed]:
        """Every process of the run, in start order."""
        parts = [self.postgres, self.redis, self.placement, self.scheduler, *self.sidecars.values()]
        return [p.server for p in parts if p is not None and p.server is not None]

    def stop(self) -> None:
        self._stopping.set()
        for sidecar in self.sidecars.values():
            if sidecar.server:
                sidecar.server.stop(grace=10)
        for part in (self.scheduler, self.placement):
            if part and part.server:
                part.server.stop(grace=10)
        for infra in (self.redis, self.postgres):
            if infra:
                with contextlib.suppress(Exception):
                    infra.stop()
        link = self.workdir / "data" / "postgres-dir"
        if link.is_file():  # a stand-in outside a private folder (see _postgres_root): not kept
            shutil.rmtree(link.read_text().strip(), ignore_errors=True)
            link.unlink()
