"""The sidecars the contract suite drives, on either runtime, behind one interface.

`localdapr`: one `localdapr run -f` process serves every sidecar of a run file.
`dapr`: the real runtime, `dapr_runtime.system.DaprSystem`: Postgres, Redis, placement,
scheduler and one daprd per app, each a process of its own, over a copy of the resources
pointed at that Postgres and Redis.

The apps behind the sidecars are ASGI apps served in the test process (`serve`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from dapr_runtime import resources as dapr_resources
from dapr_runtime.system import DaprSystem
from localdapr.runner import free_port  # never hands out one port twice (DaprSystem uses it too)

RUNTIMES = ("localdapr", "dapr")


def selected_runtimes() -> list[str]:
    """SAGA_RUNTIMES, as tests/conftest.py reads it for the system suites (that package is
    not importable from here when pytest collects only this folder)."""
    wanted = [r.strip() for r in os.environ.get("SAGA_RUNTIMES", ",".join(RUNTIMES)).split(",") if r.strip()]
    unknown = set(wanted) - set(RUNTIMES)
    if unknown:
        raise pytest.UsageError(f"SAGA_RUNTIMES: unknown runtime(s) {', '.join(sorted(unknown))}")
    return wanted


@dataclass
class Sidecar:
    app_id: str
    app_port: int
    grpc_port: int
    http_port: int

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


def new_sidecar(app_id: str) -> Sidecar:
    return Sidecar(app_id, free_port(), free_port(), free_port())


@dataclass
class Target:
    """The `contract` and `contract-peer` sidecars, and control over their processes."""

    runtime: str  # "localdapr" or "dapr"
    main: Sidecar
    peer: Sidecar
    workdir: Path

    @property
    def sidecars(self) -> tuple[Sidecar, Sidecar]:
        return (self.main, self.peer)

    def start(self) -> None:
        """Start the sidecars (again) and wait until they are healthy."""
        raise NotImplementedError

    def kill(self) -> None:
        """`kill -9` every sidecar."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def restart(self, hard: bool = True) -> None:
        self.kill() if hard else self.stop()
        self.start()

    def configure_sdk(self, sidecar: Sidecar | None = None) -> None:
        """Point the Dapr SDK (which reads its settings at import) at a sidecar."""
        from dapr.conf import settings

        sidecar = sidecar or self.main
        os.environ["DAPR_GRPC_PORT"] = str(sidecar.grpc_port)
        os.environ["DAPR_HTTP_PORT"] = str(sidecar.http_port)
        settings.DAPR_GRPC_PORT = sidecar.grpc_port  # type: ignore[attr-defined]
        settings.DAPR_HTTP_PORT = sidecar.http_port  # type: ignore[attr-defined]
        settings.DAPR_RUNTIME_HOST = "127.0.0.1"  # type: ignore[attr-defined]


@dataclass
class LocalTarget(Target):
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        resources = Path(__file__).parent / "resources"
        write_run_file(self.workdir, resources, [run_entry(self.workdir, s) for s in self.sidecars])

    def start(self) -> None:
        self.process = start_localdapr(self.workdir)
        for sidecar in self.sidecars:
            wait_healthy(sidecar)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process:
            stop_process(self.process)


@dataclass
class DaprTarget(Target):
    system: DaprSystem | None = None

    def __post_init__(self) -> None:
        self.system = DaprSystem(
            self.workdir,
            [Path(__file__).parent / "resources"],
            {s.app_id: s.app_port for s in self.sidecars},
            ports={s.app_id: (s.http_port, s.grpc_port) for s in self.sidecars},
        )
        self.system.start()  # Postgres, Redis, placement, scheduler; no daprd yet

    def start(self) -> None:
        assert self.system is not None
        for sidecar in self.sidecars:
            self.system.start_sidecar(sidecar.app_id)
        for sidecar in self.sidecars:
            # healthy = initialised with the app channel open: it has read /dapr/subscribe
            self.system.sidecars[sidecar.app_id].wait_healthy()

    def kill(self) -> None:
        assert self.system is not None
        for sidecar in self.sidecars:
            self.system.kill_sidecar(sidecar.app_id)

    def stop(self) -> None:
        if self.system:
            self.system.stop()


def make_target(runtime: str, workdir: Path) -> Target:
    main, peer = new_sidecar("contract"), new_sidecar("contract-peer")
    if runtime == "dapr":
        return DaprTarget(runtime, main, peer, workdir)
    return LocalTarget(runtime, main, peer, workdir)


# -- processes and apps ----------------------------------------------------------------------


def wait_healthy(sidecar: Sidecar, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{sidecar.http_url}/v1.0/healthz", timeout=1).status_code == 204:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"sidecar {sidecar.app_id} not healthy after {timeout}s")


def serve(app: Any, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server


def run_entry(workdir: Path, sidecar: Sidecar, with_app: bool = True, **extra: Any) -> dict[str, Any]:
    """One app of a localdapr run file; `extra` adds run-file keys (env, configFilePath)."""
    entry: dict[str, Any] = {
        "appID": sidecar.app_id,
        "appDirPath": str(workdir),
        "daprGRPCPort": sidecar.grpc_port,
        "daprHTTPPort": sidecar.http_port,
        **extra,
    }
    if with_app:
        entry["appPort"] = sidecar.app_port
    return entry


def write_run_file(workdir: Path, resources: Path, entries: list[dict[str, Any]]) -> None:
    run_file = {"version": 1, "common": {"resourcesPath": str(resources)}, "apps": entries}
    (workdir / "dapr.yaml").write_text(yaml.safe_dump(run_file))


def start_localdapr(workdir: Path) -> subprocess.Popen[bytes]:
    with open(workdir / "localdapr.log", "ab") as log:
        cmd = [sys.executable, "-m", "localdapr", "run", "-f", str(workdir / "dapr.yaml")]
        return subprocess.Popen(
            [*cmd, "--data-dir", str(workdir / "data")], stdout=log, stderr=subprocess.STDOUT, cwd=workdir
        )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# -- sidecars with settings of their own ------------------------------------------------------


@dataclass
class Private:
    """What `private_sidecars` started: the sidecars by app id, and (daprd) the system."""

    sidecars: dict[str, Sidecar]
    workdir: Path
    system: DaprSystem | None = None
    process: subprocess.Popen[bytes] | None = None
    servers: list[uvicorn.Server] = field(default_factory=list)

    def __getitem__(self, app_id: str) -> Sidecar:
        return self.sidecars[app_id]

    def kill(self) -> None:
        """`kill -9` every sidecar (their data stays: Postgres and the scheduler on daprd)."""
        if self.system is not None:
            for app_id in self.sidecars:
                self.system.kill_sidecar(app_id)
        elif self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def start(self) -> None:
        """Start the killed sidecars again and wait until they are healthy (none may be `app_down`)."""
        if self.system is not None:
            for app_id in self.sidecars:
                self.system.start_sidecar(app_id)
            for app_id in self.sidecars:
                self.system.sidecars[app_id].wait_healthy()
        else:
            self.process = start_localdapr(self.workdir)
            for sidecar in self.sidecars.values():
                wait_healthy(sidecar)


@contextmanager
def private_sidecars(
    runtime: str, workdir: Path, apps: list[dict[str, Any]], resources: dict[str, str] | None = None
) -> Iterator[Private]:
    """Sidecars of their own on `runtime`, for tests that need settings the shared target lacks.

    Each entry: `app_id`, optional `app` (an ASGI app served on a free port) or
    `app_down: True` (an app port nobody listens on), `env` (the sidecar's environment:
    DAPR_API_TOKEN, APP_API_TOKEN, ...) and `config` (a Configuration document, as a dict,
    for that app's sidecar only); `resources` maps file names to YAML text for the
    resources folder they share.
    """
    sidecars = {spec["app_id"]: new_sidecar(spec["app_id"]) for spec in apps}
    private = Private(sidecars, workdir)
    folder = workdir / "resources"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (resources or {}).items():
        (folder / name).write_text(text)
    configs: dict[str, Path] = {}
    for spec in apps:
        if spec.get("config"):
            configs[spec["app_id"]] = workdir / f"{spec['app_id']}-config.yaml"
            configs[spec["app_id"]].write_text(yaml.safe_dump(spec["config"]))
    has_app = {s["app_id"]: s.get("app") is not None or bool(s.get("app_down")) for s in apps}
    try:
        for spec in apps:
            if spec.get("app") is not None:
                private.servers.append(serve(spec["app"], sidecars[spec["app_id"]].app_port))
        if runtime == "dapr":
            _start_private_daprd(private, workdir, folder, apps, configs, has_app)
        else:
            entries = []
            for spec in apps:
                extra: dict[str, Any] = {"env": spec.get("env", {})}
                if spec["app_id"] in configs:
                    extra["configFilePath"] = str(configs[spec["app_id"]])
                entries.append(run_entry(workdir, sidecars[spec["app_id"]], has_app[spec["app_id"]], **extra))
            write_run_file(workdir, folder, entries)
            private.process = start_localdapr(workdir)
            for sc in sidecars.values():
                wait_healthy(sc)
        yield private
    finally:
        if private.process:
            stop_process(private.process)
        if private.system:
            private.system.stop()
        for server in private.servers:
            server.should_exit = True


def _start_private_daprd(
    private: Private,
    workdir: Path,
    folder: Path,
    apps: list[dict[str, Any]],
    configs: dict[str, Path],
    has_app: dict[str, bool],
) -> None:
    sidecars = private.sidecars
    system = DaprSystem(
        workdir / "dapr",
        [folder],
        {app_id: sc.app_port if has_app[app_id] else None for app_id, sc in sidecars.items()},
        ports={app_id: (sc.http_port, sc.grpc_port) for app_id, sc in sidecars.items()},
    )
    private.system = system
    system.start()
    # DaprSystem gives every daprd the same env and Configuration; these are per app. An app's
    # own Configuration gets the run's name resolution as DaprSystem gives its default one.
    for spec in apps:
        daprd = system.sidecars[spec["app_id"]]
        daprd.env = {**daprd.env, **spec.get("env", {})}
        if spec["app_id"] in configs:
            daprd.config = dapr_resources.with_own_name_resolution(
                configs[spec["app_id"]],
                system.workdir / f"config-{spec['app_id']}.yaml",
                system.workdir / "data" / "names.db",
            )
    for app_id in sidecars:
        system.start_sidecar(app_id)
    for spec in apps:
        if spec.get("app") is not None or not has_app[spec["app_id"]]:
            system.sidecars[spec["app_id"]].wait_healthy()
