"""`dapr-runtime run -f dapr.yaml`: what `dapr run -f` does, on the real runtime.

The Dapr CLI cannot be installed here, so this does its part, plus what
`dapr init` would have running: Postgres and Redis (the servers `components/`
name), placement and scheduler. Then, per app in the run file, its daprd (with
the CLI's flags, `sidecar.py`) and the app itself (with the CLI's environment,
the same `app_env` as localdapr's runner), then the gateway of `gateway.yaml`.
Every line of every process is echoed with its name; all of it is also in
`<data>/logs/`. Ctrl-C or SIGTERM, or any process exiting, stops everything
in reverse order. A process that fails to start is named, with its log.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from localdapr.config import ConfigError, load_gateway_routes, load_run_file
from localdapr.lifeline import remove_run_record, stop_leftovers, write_run_record
from localdapr.runner import AppPlan, app_env, port_in_use

from .binaries import RuntimeMissing
from .infra import InfraMissing
from .processes import Managed, StartError, listening
from .system import DaprSystem

DATA_DIR = Path(".data/dapr")  # beside the run file, as localdapr's .data/localdapr
RUN_RECORD = Path(".data/run.json")


@dataclass
class RunOptions:
    file: Path
    data_dir: Path | None = None
    gateway_port: int = 8080
    gateway_routes: Path | None = None


class Runner:
    def __init__(self, options: RunOptions) -> None:
        self.run_file = load_run_file(options.file)
        base = self.run_file.path.parent
        self.data_dir = (options.data_dir or base / DATA_DIR).resolve()
        self.record = base / RUN_RECORD
        routes_file = options.gateway_routes or (base / "gateway.yaml")
        self.routes = load_gateway_routes(routes_file) if routes_file.is_file() else {}
        self.gateway_port = options.gateway_port
        folders = {p: None for a in self.run_file.apps for p in a.resources_paths}
        configs = {a.config_file for a in self.run_file.apps}
        if len(configs) > 1:
            raise ConfigError("every app must use the same configFilePath under dapr-runtime run")
        self.system = DaprSystem(
            self.data_dir,
            list(folders),
            {a.app_id: a.app_port for a in self.run_file.apps},
            config=configs.pop(),
            env={k: v for k, v in os.environ.items() if k in ("DAPR_API_TOKEN", "APP_API_TOKEN")},
            echo=True,
        )
        self.apps: dict[str, Managed] = {}
        self.gateway: Managed | None = None
        self.stopping = threading.Event()

    def _check_ports(self) -> None:
        wanted = [(a.app_port, f"appPort of {a.app_id}") for a in self.run_file.apps if a.app_port]
        if self.routes:
            wanted.append((self.gateway_port, "the gateway port"))
        for port, what in wanted:
            if port_in_use(port):
                raise StartError(f"port {port} ({what}) is already in use")

    def start(self) -> None:
        programs = {a.app_id: a.command[0] for a in self.run_file.apps if a.command}
        for stopped in stop_leftovers(self.record, programs):
            print(f"dapr-runtime: stopped {stopped}, left by a run that crashed", flush=True)
        self._check_ports()
        self.system.start()
        for spec in self.run_file.apps:
            sidecar = self.system.sidecars[spec.app_id]
            self.system.start_sidecar(spec.app_id)
            if not spec.command:
                continue
            env = app_env(AppPlan(spec, sidecar.http_port, sidecar.grpc_port))
            env.update(self.system.env)
            app = Managed(
                f"APP - {spec.app_id}",
                spec.command,
                self.system.logs / f"{spec.app_id}.log",
                env,
                spec.app_dir,
                True,
            )
            self.apps[spec.app_id] = app
            app.start()
        for spec in self.run_file.apps:
            if spec.app_id in self.apps and spec.app_port:
                self.apps[spec.app_id].wait_until(listening(spec.app_port), f"listening on :{spec.app_port}")
            self.system.sidecars[spec.app_id].wait_healthy()
        if self.routes:
            self._start_gateway()
        self._write_record()

    def _start_gateway(self) -> None:
        ports = {a.app_id: a.app_port for a in self.run_file.apps}
        routes = {prefix: ports[app_id] for prefix, app_id in self.routes.items() if ports.get(app_id)}
        argv = [
            sys.executable,
            "-m",
            "dapr_runtime.gateway",
            "--port",
            str(self.gateway_port),
            json.dumps(routes),
        ]
        self.gateway = Managed("gateway", argv, self.system.logs / "gateway.log", echo=True)
        self.gateway.start()
        self.gateway.wait_until(listening(self.gateway_port), f"listening on :{self.gateway_port}")

    def everything(self) -> list[Managed]:
        return [*self.system.processes(), *self.apps.values(), *([self.gateway] if self.gateway else [])]

    def _write_record(self) -> None:
        sidecars = self.system.sidecars
        write_run_record(
            self.record,
            {
                "runtime": "dapr",
                "pid": os.getpid(),
                "gateway": f"http://localhost:{self.gateway_port}" if self.gateway else None,
                "apps": {
                    a.app_id: {
                        "app_port": a.app_port,
                        "dapr_http_port": sidecars[a.app_id].http_port,
                        "dapr_grpc_port": sidecars[a.app_id].grpc_port,
                        "pid": self.apps[a.app_id].pid if a.app_id in self.apps else None,
                    }
                    for a in self.run_file.apps
                },
                "pids": [
                    {"name": m.name, "pid": m.pid, "cmd": [str(a) for a in m.argv]}
                    for m in self.everything()
                    if m.pid
                ],
            },
        )

    def ready_line(self) -> str:
        parts = ["dapr-runtime: ready", f"daprd {self.system.runtime.version}"]
        if self.gateway:
            parts.append(f"gateway http://localhost:{self.gateway_port}")
        for spec in self.run_file.apps:
            s = self.system.sidecars[spec.app_id]
            parts.append(
                f"{spec.app_id}: app :{spec.app_port}, dapr HTTP :{s.http_port}, gRPC :{s.grpc_port}"
            )
        parts.append(f"data {self.data_dir}")
        return " | ".join(parts)

    def wait(self) -> str:
        """Until a signal, or until a process exits: what ended the run."""
        while not self.stopping.wait(0.5):
            for m in self.everything():
                if not m.alive:
                    return f"{m.name} exited with code {m.process.returncode if m.process else '?'}"
        return ""

    def stop(self) -> None:
        for m in [*([self.gateway] if self.gateway else []), *self.apps.values()]:
            m.stop(grace=5)
        self.system.stop()
        remove_run_record(self.record, os.getpid())


def run(options: RunOptions) -> int:
    try:
        runner = Runner(options)
    except (ConfigError, RuntimeMissing, InfraMissing) as exc:
        print(f"dapr-runtime: {exc}", file=sys.stderr, flush=True)
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: runner.stopping.set())
    try:
        runner.start()
        print(runner.ready_line(), flush=True)
        why = runner.wait()
        if why:
            print(f"dapr-runtime: {why}; stopping everything", file=sys.stderr, flush=True)
            return 1
        return 0
    except (StartError, RuntimeMissing, InfraMissing) as exc:
        print(f"dapr-runtime: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        runner.stop()
