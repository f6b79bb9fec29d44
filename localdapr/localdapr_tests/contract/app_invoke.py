"""Routes the service-invocation tests call on both contract apps.

`/invoke/echo/...` answers (any verb) with what arrived: verb, path, query,
headers and body; `/invoke/status/{code}` answers that status with a body and
a header of its own, so tests can check that daprd passes all three through.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

VERBS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


def _routes(app: FastAPI, app_id: str, recorder: Any) -> None:
    @app.api_route("/invoke/echo/{rest:path}", methods=VERBS)
    async def echo(rest: str, request: Request) -> Response:
        seen = {
            "app": app_id,
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": (await request.body()).decode(),
        }
        recorder.add(f"invoke:{app_id}", seen)
        return JSONResponse(seen, headers={"x-echo-reply": "yes"})

    @app.api_route("/invoke/status/{code}", methods=VERBS)
    async def status(code: int) -> Response:
        return JSONResponse(
            {"status": code, "from": app_id}, status_code=code, headers={"x-echo-reply": "yes"}
        )


def register(main: FastAPI, peer: FastAPI, dapr_app: Any, recorder: Any) -> None:
    _routes(main, "contract", recorder)
    _routes(peer, "contract-peer", recorder)


# -- a private localdapr, for tests that need settings the shared target lacks --------


@contextmanager
def private_localdapr(
    workdir: Path, apps: list[dict[str, Any]], resources: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """Start `localdapr run -f` on its own run file; yields app id -> conftest.Sidecar.

    Each entry: `app_id`, optional `app` (an ASGI app served on a free port) or
    `app_down: True` (an appPort nobody listens on),
    `env` (the run file's env: DAPR_API_TOKEN, APP_API_TOKEN, ...) and `config`
    (a Configuration document, as a dict, for the app's configFilePath);
    `resources` maps file names to YAML text for the shared resources folder.
    """
    import yaml

    from .conftest import Sidecar, _serve, free_port, wait_healthy  # only when used from a test

    sidecars: dict[str, Any] = {}
    servers = []
    run_apps = []
    for spec in apps:
        app_id = spec["app_id"]
        sc = Sidecar(app_id, free_port(), free_port(), free_port())
        sidecars[app_id] = sc
        entry: dict[str, Any] = {
            "appID": app_id,
            "appDirPath": str(workdir),
            "daprGRPCPort": sc.grpc_port,
            "daprHTTPPort": sc.http_port,
            "env": spec.get("env", {}),
        }
        if spec.get("app") is not None:
            servers.append(_serve(spec["app"], sc.app_port))
            entry["appPort"] = sc.app_port
        elif spec.get("app_down"):  # an app port nothing listens on
            entry["appPort"] = sc.app_port
        if spec.get("config"):
            path = workdir / f"{app_id}-config.yaml"
            path.write_text(yaml.safe_dump(spec["config"]))
            entry["configFilePath"] = str(path)
        run_apps.append(entry)
    (workdir / "resources").mkdir(exist_ok=True)
    for name, text in (resources or {}).items():
        (workdir / "resources" / name).write_text(text)
    run_file = {"version": 1, "common": {"resourcesPath": str(workdir / "resources")}, "apps": run_apps}
    (workdir / "dapr.yaml").write_text(yaml.safe_dump(run_file))
    log = open(workdir / "localdapr.log", "ab")  # noqa: SIM115 - owned by the process
    cmd = [sys.executable, "-m", "localdapr", "run", "-f", str(workdir / "dapr.yaml")]
    proc = subprocess.Popen([*cmd, "--data-dir", str(workdir / "data")], stdout=log, stderr=subprocess.STDOUT)
    try:
        for sc in sidecars.values():
            wait_healthy(sc)
        yield sidecars
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        for server in servers:
            server.should_exit = True


def echo_app(app_id: str, recorder: Any) -> FastAPI:
    """A standalone app with the echo routes, for a private localdapr."""
    app = FastAPI()
    _routes(app, app_id, recorder)
    return app
