"""The whole system on localdapr, for end-to-end tests.

`localdapr run` serves the four sidecars and the gateway; the four apps run as
separate processes owned by the test, so a test can `kill -9` one app and
start it again. Ports are free ones, so tests never collide with `make run`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from localdapr.runner import free_port  # never hands out one port twice

ROOT = Path(__file__).resolve().parents[2]


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
}


@dataclass
class Stack:
    """`env` goes to every app, `app_env[app_id]` to one. `deadletters` adds the audit's
    dead-letter subscriber (`bench.deadletters`) as a fifth app with its own sidecar."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    app_env: dict[str, dict[str, str]] = field(default_factory=dict)
    deadletters: bool = False
    apps: dict[str, App] = field(default_factory=dict)
    gateway_port: int = field(default_factory=free_port)
    sidecars: subprocess.Popen[bytes] | None = None

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
            "common": {"resourcesPath": str(self._components())},
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
        )
        for app in self.apps.values():
            _wait_http(f"http://127.0.0.1:{app.http_port}/v1.0/healthz", self.sidecars)

    def kill_sidecars(self) -> None:
        assert self.sidecars is not None
        self.sidecars.send_signal(signal.SIGKILL)
        self.sidecars.wait(10)

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
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
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
        except Exception:
            print(self.logs())
            self.stop()
            raise

    def stop(self) -> None:
        procs = [a.process for a in self.apps.values() if a.process] + [self.sidecars]
        for p in procs:
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            if p:
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()

    def logs(self) -> str:
        return "\n".join(
            f"--- {f.name}\n{f.read_text(errors='replace')[-4000:]}"
            for f in sorted(self.workdir.glob("*.log"))
        )


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
