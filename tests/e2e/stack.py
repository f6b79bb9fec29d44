"""The whole system on either Dapr runtime, for end-to-end tests.

`make_stack("localdapr", ...)`: `localdapr run` serves the four sidecars and the
gateway. `make_stack("dapr", ...)`: the real runtime (Postgres, Redis, placement,
scheduler and a daprd per app, `dapr_runtime.DaprSystem`) and the same gateway.
Either way the four apps run as separate processes owned by the test, so a test
can `kill -9` one app (or, on real Dapr, one daprd) and start it again. Ports are
free ones, so tests never collide with `make run`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from dapr_runtime.infra import Postgres
from dapr_runtime.processes import listening
from dapr_runtime.system import DaprSystem
from localdapr.config import load_gateway_routes
from localdapr.lifeline import die_with_parent
from localdapr.runner import free_port  # never hands out one port twice

ROOT = Path(__file__).resolve().parents[2]
RUNTIMES = ("localdapr", "dapr")


@dataclass
class App:
    app_id: str
    module: str
    app_port: int
    grpc_port: int
    http_port: int
    process: subprocess.Popen[bytes] | None = None


DEADLETTERS_APP = "deadletters"
# Short saga timeouts keep the timeout scenarios quick; they are settings, not code.
STACK_ENV = {
    "STEP_TIMEOUT_SECONDS": "3",
    "COMPENSATION_TIMEOUT_SECONDS": "2",
    "COMPENSATION_MAX_BACKOFF_SECONDS": "4",
    "COMPENSATION_ROUNDS_PER_RUN": "2",  # so a long compensation continues as new within a test
    "RECOVERY_SWEEP_SECONDS": "2",
    "RECOVERY_QUIET_SECONDS": "3",
}


@dataclass
class Stack:
    """The system on localdapr. `env` goes to every app, `app_env[app_id]` to one.
    `deadletters` adds the audit's dead-letter subscriber (`bench.deadletters`) as a
    fifth app with its own sidecar. `sidecar_env` goes to the sidecars (API tokens) and the
    gateway (its OTEL_* settings).
    `config` is the sidecars' Configuration (default: the run file's, `config.yaml`)."""

    runtime = "localdapr"

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    app_env: dict[str, dict[str, str]] = field(default_factory=dict)
    deadletters: bool = False
    sidecar_env: dict[str, str] = field(default_factory=dict)
    config: Path = ROOT / "config.yaml"
    apps: dict[str, App] = field(default_factory=dict)
    gateway_port: int = field(default_factory=free_port)
    sidecars: subprocess.Popen[bytes] | None = None
    gateway: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        run = yaml.safe_load((ROOT / "dapr.yaml").read_text())
        for entry in run["apps"]:
            command = entry["command"]
            module = command[command.index("--factory") + 1]
            self.apps[entry["appID"]] = App(entry["appID"], module, free_port(), free_port(), free_port())
        if self.deadletters:
            self.apps[DEADLETTERS_APP] = App(
                DEADLETTERS_APP, "bench.deadletters:create_app", free_port(), free_port(), free_port()
            )
            self.app_env.setdefault(DEADLETTERS_APP, {})["DEADLETTERS_FILE"] = str(
                self.workdir / "deadletters.jsonl"
            )

    def app_url(self, app_id: str) -> str:
        """An app reached directly, not through the gateway (internal routes, the audit app)."""
        return f"http://127.0.0.1:{self.apps[app_id].app_port}"

    def sidecar_url(self, app_id: str) -> str:
        return f"http://127.0.0.1:{self.apps[app_id].http_port}"

    def _components(self) -> Path:
        """The repository's components; with `deadletters`, its app may use the pub/sub too."""
        if not self.deadletters:
            return ROOT / "components"
        target = self.workdir / "components"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ROOT / "components", target)
        for path in target.glob("*.yaml"):
            doc = yaml.safe_load(path.read_text())
            if doc.get("kind") == "Component" and doc["spec"]["type"].startswith("pubsub."):
                doc["scopes"] = [*doc.get("scopes", []), DEADLETTERS_APP]
                path.write_text(yaml.safe_dump(doc))
        return target

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    # -- sidecars -------------------------------------------------------------
    def start_sidecars(self) -> None:
        run_file = {
            "version": 1,
            "common": {"resourcesPaths": [str(self._components())], "configFilePath": str(self.config)},
            "apps": [
                {
                    "appID": a.app_id,
                    "appDirPath": str(self.workdir),
                    "appPort": a.app_port,
                    "daprGRPCPort": a.grpc_port,
                    "daprHTTPPort": a.http_port,
                }
                for a in self.apps.values()
            ],
        }
        (self.workdir / "dapr.yaml").write_text(yaml.safe_dump(run_file))
        log = open(self.workdir / "localdapr.log", "ab")  # noqa: SIM115 - owned by the process
        self.sidecars = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localdapr",
                "run",
                "-f",
                str(self.workdir / "dapr.yaml"),
                "--data-dir",
                str(self.workdir / "data"),
                "--gateway-port",
                str(self.gateway_port),
                "--gateway-routes",
                str(ROOT / "gateway.yaml"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.sidecar_env},
            preexec_fn=die_with_parent(os.getpid()),
        )
        for app in self.apps.values():
            _wait_http(f"http://127.0.0.1:{app.http_port}/v1.0/healthz", self.sidecars)

    def kill_sidecars(self) -> None:
        """`kill -9` every sidecar (under localdapr, one process serves them all)."""
        assert self.sidecars is not None
        self.sidecars.send_signal(signal.SIGKILL)
        self.sidecars.wait(10)

    def wait_sidecars_healthy(self) -> None:
        """Every sidecar ready, its app included (localdapr is ready before the apps)."""

    # -- apps -----------------------------------------------------------------
    def start_app(self, app_id: str) -> None:
        app = self.apps[app_id]
        env = {
            **os.environ,
            **self.env,
            **self.app_env.get(app_id, {}),
            "APP_ID": app.app_id,
            "APP_PORT": str(app.app_port),
            "DAPR_GRPC_PORT": str(app.grpc_port),
            "DAPR_HTTP_PORT": str(app.http_port),
        }
        log = open(self.workdir / f"{app_id}.log", "ab")  # noqa: SIM115 - owned by the process
        app.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                app.module,
                "--host",
                "127.0.0.1",
                "--port",
                str(app.app_port),
                *("--loop", "uvloop", "--http", "httptools"),
                "--no-access-log",
                *("--timeout-graceful-shutdown", "5"),  # as dapr.yaml: SIGTERM ends within a bound
                *("--timeout-keep-alive", "75"),  # as dapr.yaml: outlives the proxy's idle connections
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            preexec_fn=die_with_parent(os.getpid()),
        )
        _wait_http(f"http://127.0.0.1:{app.app_port}/healthz", app.process)

    def kill_app(self, app_id: str) -> None:
        process = self.apps[app_id].process
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def start(self) -> None:
        """Start everything; if anything fails to come up, show every log and stop what started."""
        try:
            self.start_sidecars()
            for app_id in self.apps:
                self.start_app(app_id)
            self.wait_sidecars_healthy()
        except Exception:
            print(self.logs())
            self.stop()
            raise

    def stop(self) -> None:
        procs = [a.process for a in self.apps.values() if a.process] + [self.sidecars]
        self._stop(procs)

    def _stop(self, procs: list[subprocess.Popen[bytes] | None]) -> None:
        for p in procs:
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            if p:
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()

    def processes(self) -> dict[str, int]:
        """Every process of the system by name, for measuring (the benchmark's CPU figures)."""
        procs = {"localdapr": self.sidecars} | {a.app_id: a.process for a in self.apps.values()}
        return {name: p.pid for name, p in procs.items() if p is not None}

    def logs(self) -> str:
        return "\n".join(
            f"--- {f.name}\n{f.read_text(errors='replace')[-4000:]}"
            for f in sorted([*self.workdir.glob("*.log"), *self.workdir.glob("dapr/logs/*.log")])
        )


@dataclass
class DaprStack(Stack):
    """The system on the real Dapr runtime; each daprd is a process of its own."""

    runtime = "dapr"
    system: DaprSystem | None = None

    def _system(self) -> DaprSystem:
        if self.system is None:
            self.system = DaprSystem(
                self.workdir / "dapr",
                [self._components()],
                {a.app_id: a.app_port for a in self.apps.values()},
                config=self.config,
                env=self.sidecar_env,
                ports={a.app_id: (a.http_port, a.grpc_port) for a in self.apps.values()},
            )
            self.system.start()
        return self.system

    def start_sidecars(self) -> None:
        system = self._system()
        for app_id in self.apps:
            system.start_sidecar(app_id)
        if self.gateway is None:
            self.gateway = _start_gateway(self)

    def start_sidecar(self, app_id: str) -> None:
        """Start one app's daprd again and wait until it is ready (its app is running)."""
        self._system().start_sidecar(app_id)
        self._system().sidecars[app_id].wait_healthy()

    def kill_sidecar(self, app_id: str) -> None:
        """`kill -9` one app's daprd."""
        self._system().kill_sidecar(app_id)

    def kill_sidecars(self) -> None:
        for app_id in self.apps:
            self.kill_sidecar(app_id)

    def kill_server(self, name: str) -> None:
        """`kill -9` postgres, redis, placement or scheduler; it stays down until `start_server`."""
        self._system().kill_part(name)

    def start_server(self, name: str) -> None:
        """Start it again on its port, with its data, and wait until it is ready."""
        self._system().start_part(name)

    def sql(self, database: str, statement: str) -> str:
        """A statement run straight in Postgres, behind Dapr's back: for fault injection."""
        postgres = self._system().part("postgres")
        assert isinstance(postgres, Postgres)
        return postgres.sql(database, statement)

    def wait_sidecars_healthy(self) -> None:
        for sidecar in self._system().sidecars.values():
            sidecar.wait_healthy()

    def processes(self) -> dict[str, int]:
        procs = {a.app_id: a.process.pid for a in self.apps.values() if a.process}
        if self.gateway:
            procs["gateway"] = self.gateway.pid
        for m in self._system().processes():
            if m.pid:
                procs[m.name] = m.pid
        return procs

    def stop(self) -> None:
        self._stop([a.process for a in self.apps.values() if a.process] + [self.gateway])  # type: ignore[arg-type, list-item]
        if self.system:
            self.system.stop()


def make_stack(runtime: str, workdir: Path, **options: Any) -> Stack:
    """The system on `runtime` ("localdapr" or "dapr")."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}: expected one of {', '.join(RUNTIMES)}")
    return (DaprStack if runtime == "dapr" else Stack)(workdir, **options)


def _start_gateway(stack: Stack) -> subprocess.Popen[bytes]:
    """localdapr's gateway alone, in front of the apps (the ingress of a real cluster)."""
    routes = {
        prefix: stack.apps[app_id].app_port
        for prefix, app_id in load_gateway_routes(ROOT / "gateway.yaml").items()
    }
    log = open(stack.workdir / "gateway.log", "ab")  # noqa: SIM115 - owned by the process
    process = subprocess.Popen(
        [sys.executable, "-m", "dapr_runtime.gateway", "--port", str(stack.gateway_port), json.dumps(routes)],
        env={**os.environ, **stack.sidecar_env},  # as localdapr's gateway, in its sidecars' process
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent(os.getpid()),
    )
    deadline = time.monotonic() + 30
    while not listening(stack.gateway_port)():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the gateway did not start; its log: {stack.workdir / 'gateway.log'}")
        time.sleep(0.05)
    return process


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")
