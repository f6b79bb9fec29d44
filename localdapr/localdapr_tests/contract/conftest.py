"""Contract-suite target: a running localdapr (default) or real daprd.

`DAPR_TARGET=localdapr` (default): the suite starts `localdapr run -f` as a
subprocess with two sidecars, `contract` and `contract-peer`, over the
resources in `resources/`, and can kill and restart it.

`DAPR_TARGET=daprd`: start the same two apps yourself with the Dapr CLI, e.g.

    dapr run --app-id contract --app-port 6101 --dapr-grpc-port 50101 \
      --dapr-http-port 3601 --resources-path localdapr/localdapr_tests/contract/resources &
    dapr run --app-id contract-peer --app-port 6102 --dapr-grpc-port 50102 \
      --dapr-http-port 3602 --resources-path localdapr/localdapr_tests/contract/resources &
    DAPR_TARGET=daprd pytest localdapr/localdapr_tests/contract

(ports overridable with CONTRACT_{APP,GRPC,HTTP}_PORT{,_PEER}); tests that need
to kill the sidecar are skipped there.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml

HERE = Path(__file__).parent
TARGET = os.environ.get("DAPR_TARGET", "localdapr")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


@dataclass
class Target:
    """The sidecars under test, and (for localdapr) control over their process."""

    name: str
    main: Sidecar
    peer: Sidecar
    workdir: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    log: list[str] = field(default_factory=list)

    @property
    def can_restart(self) -> bool:
        return self.workdir is not None

    def start(self) -> None:
        assert self.workdir is not None
        logfile = open(self.workdir / "localdapr.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localdapr",
                "run",
                "-f",
                str(self.workdir / "dapr.yaml"),
                "--data-dir",
                str(self.workdir / "data"),
            ],
            stdout=logfile,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        wait_healthy(self.main)
        wait_healthy(self.peer)

    def kill(self) -> None:
        """`kill -9` every sidecar at once."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def restart(self, hard: bool = True) -> None:
        self.kill() if hard else self.stop()
        self.start()

    def configure_sdk(self, sidecar: Sidecar | None = None) -> None:
        """Point the Dapr SDK (which reads its settings at import) at a sidecar."""
        from dapr.conf import settings

        sidecar = sidecar or self.main
        os.environ["DAPR_GRPC_PORT"] = str(sidecar.grpc_port)
        os.environ["DAPR_HTTP_PORT"] = str(sidecar.http_port)
        settings.DAPR_GRPC_PORT = sidecar.grpc_port
        settings.DAPR_HTTP_PORT = sidecar.http_port
        settings.DAPR_RUNTIME_HOST = "127.0.0.1"


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


def _serve(app: object, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server


def _env_port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    from .app import create_apps

    if TARGET == "daprd":
        main = Sidecar(
            "contract",
            _env_port("CONTRACT_APP_PORT", 6101),
            _env_port("CONTRACT_GRPC_PORT", 50101),
            _env_port("CONTRACT_HTTP_PORT", 3601),
        )
        peer = Sidecar(
            "contract-peer",
            _env_port("CONTRACT_APP_PORT_PEER", 6102),
            _env_port("CONTRACT_GRPC_PORT_PEER", 50102),
            _env_port("CONTRACT_HTTP_PORT_PEER", 3602),
        )
        t = Target("daprd", main, peer)
    else:
        main = Sidecar("contract", free_port(), free_port(), free_port())
        peer = Sidecar("contract-peer", free_port(), free_port(), free_port())
        t = Target("localdapr", main, peer, workdir=tmp_path_factory.mktemp("localdapr"))
    main_app, peer_app = create_apps()
    servers = [_serve(main_app, main.app_port), _serve(peer_app, peer.app_port)]
    if t.workdir is not None:
        run_file = {
            "version": 1,
            "common": {"resourcesPath": str(HERE / "resources")},
            "apps": [
                {
                    "appID": s.app_id,
                    "appDirPath": str(t.workdir),
                    "appPort": s.app_port,
                    "daprGRPCPort": s.grpc_port,
                    "daprHTTPPort": s.http_port,
                }
                for s in (main, peer)
            ],
        }
        (t.workdir / "dapr.yaml").write_text(yaml.safe_dump(run_file))
        t.start()
    else:
        wait_healthy(main)
        wait_healthy(peer)
    t.configure_sdk()
    yield t
    t.stop()
    for server in servers:
        server.should_exit = True


@pytest.fixture
def restartable(target: Target) -> Target:
    if not target.can_restart:
        pytest.skip("the target's sidecar process is not under the suite's control")
    return target
