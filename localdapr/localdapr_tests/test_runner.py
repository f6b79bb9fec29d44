"""`localdapr run -f`: what `dapr run -f` does for apps with a `command`.

Mirrors the Dapr CLI (dapr/cli pkg/standalone/run.go, cmd/run.go): the
environment it exports to each app, prefixed logs, stopping everything on
SIGTERM/Ctrl-C, and failing fast (one line, non-zero exit) on a port in use,
a missing command or an app that exits.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from .fixtures.runs import LocalDaprRun, alive, echo_command, free_port, wait_until, write_run_file

STATESTORE = """
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.postgresql
  version: v1
  metadata:
    - name: connectionString
      value: "host=localhost"
"""


def _app(app_id: str, folder: Path, port: int, **extra: object) -> dict[str, object]:
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "appID": app_id,
        "appDirPath": f"./{folder.name}",
        "appPort": port,
        "command": echo_command(),
        **extra,
    }


def _one_line_error(run: LocalDaprRun) -> str:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.output()
    assert lines[0].startswith("localdapr: ")
    return lines[0]


def test_apps_get_the_dapr_run_environment_and_prefixed_logs(tmp_path: Path) -> None:
    """Each app runs in its appDirPath with APP_ID, APP_PORT, APP_PROTOCOL, DAPR_HTTP_PORT,
    DAPR_GRPC_PORT, then common.env and its own env (app wins); output lines are prefixed."""
    alpha_port, beta_port, alpha_http = free_port(), free_port(), free_port()
    run_file = write_run_file(
        tmp_path,
        [
            _app("alpha", tmp_path / "alpha", alpha_port, daprHTTPPort=alpha_http, env={"FROM_APP": "alpha"}),
            _app("beta", tmp_path / "beta", beta_port),
        ],
        common={"env": {"FROM_COMMON": "c", "FROM_APP": "common"}},
    )
    with LocalDaprRun(run_file, "--gateway-port", str(free_port())) as run:
        ready = run.wait_ready()
        alpha = httpx.get(f"http://127.0.0.1:{alpha_port}/").json()
        beta = httpx.get(f"http://127.0.0.1:{beta_port}/").json()
        assert alpha["env"]["APP_ID"] == "alpha"
        assert alpha["env"]["APP_PORT"] == str(alpha_port)
        assert alpha["env"]["APP_PROTOCOL"] == "http"
        assert alpha["env"]["DAPR_HTTP_PORT"] == str(alpha_http)
        assert (alpha["env"]["FROM_COMMON"], alpha["env"]["FROM_APP"]) == ("c", "alpha")
        assert (beta["env"]["FROM_COMMON"], beta["env"]["FROM_APP"]) == ("c", "common")
        assert alpha["cwd"] == str((tmp_path / "alpha").resolve())
        # The exported ports are the sidecar's, and the sidecars reach each other's apps.
        beta_http = beta["env"]["DAPR_HTTP_PORT"]
        assert (
            f"beta: app :{beta_port}, dapr HTTP :{beta_http}, gRPC :{beta['env']['DAPR_GRPC_PORT']}" in ready
        )
        r = httpx.post(f"http://127.0.0.1:{alpha_http}/v1.0/invoke/beta/method/hi?x=1", content=b"b")
        seen = r.json()
        assert (seen["app"], seen["query"], seen["headers"]["dapr-caller-app-id"]) == ("beta", "x=1", "alpha")
        # As the Dapr CLI does, the run records the app's command and the CLI's pid in the metadata.
        extended = httpx.get(f"http://127.0.0.1:{alpha_http}/v1.0/metadata").json()["extended"]
        assert extended["appCommand"].endswith("echo_app.py")
        assert extended["cliPID"] == str(run.process.pid)
        run.wait_line(lambda line: line.startswith("== APP - beta == echo app beta pid"))
        run.wait_line(lambda line: line == "== APP - alpha == echo app: to stderr")
        run.wait_line(lambda line: line.startswith("== DAPR - alpha == ") and "sidecar alpha" in line)
        assert run.stop() == 0


def test_sigterm_stops_apps_their_children_and_sidecars(tmp_path: Path) -> None:
    """SIGTERM (or Ctrl-C) stops every app, anything they started, and the sidecars: no orphans."""
    port, http_port = free_port(), free_port()
    app = _app("alpha", tmp_path / "alpha", port, daprHTTPPort=http_port, env={"ECHO_CHILD": "1"})
    with LocalDaprRun(write_run_file(tmp_path, [app])) as run:
        run.wait_ready()
        child = int(run.wait_line(lambda line: "child pid" in line).rsplit(" ", 1)[1])
        app_pid = int(re.search(r"pid (\d+) listening", run.wait_line(lambda line: "listening" in line))[1])
        assert alive(child) and alive(app_pid)
        started = time.monotonic()
        assert run.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 10
        wait_until(lambda: not alive(app_pid) and not alive(child), 5, "the app and its child to exit")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{http_port}/v1.0/healthz", timeout=1)


def test_ctrl_c_stops_the_run(tmp_path: Path) -> None:
    """SIGINT is handled like SIGTERM: a clean stop with exit code 0."""
    app = _app("alpha", tmp_path / "alpha", free_port())
    with LocalDaprRun(write_run_file(tmp_path, [app])) as run:
        run.wait_ready()
        assert run.stop(signal.SIGINT) == 0


def test_app_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    """An app that ignores SIGTERM gets SIGKILL once the grace period is over."""
    app = _app("alpha", tmp_path / "alpha", free_port(), env={"ECHO_IGNORE_TERM": "1"})
    with LocalDaprRun(write_run_file(tmp_path, [app]), "--grace-period", "0.5") as run:
        run.wait_ready()
        pid = int(re.search(r"pid (\d+) listening", run.wait_line(lambda line: "listening" in line))[1])
        assert run.stop(timeout=10) == 0
        wait_until(lambda: not alive(pid), 5, "the app to be killed")
        assert any("did not stop" in line for line in run.stdout)


def test_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    """A daprHTTPPort already taken fails at once (the Dapr CLI: "Port N is not available")."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        app = _app("alpha", tmp_path / "alpha", free_port(), daprHTTPPort=port)
        with LocalDaprRun(write_run_file(tmp_path, [app])) as run:
            assert run.finish(timeout=15) != 0
        line = _one_line_error(run)
        assert f"port {port}" in line and "already in use" in line


def test_missing_command_is_a_one_line_error(tmp_path: Path) -> None:
    """A command that cannot be executed stops the run with one line naming it."""
    app = _app("alpha", tmp_path / "alpha", free_port(), command=["no-such-command-for-localdapr"])
    with LocalDaprRun(write_run_file(tmp_path, [app])) as run:
        assert run.finish(timeout=15) != 0
    line = _one_line_error(run)
    assert "alpha" in line and "no-such-command-for-localdapr" in line


def test_app_that_exits_stops_the_run_with_its_exit_code(tmp_path: Path) -> None:
    """An app exiting ends the whole run; its last output and exit code are reported."""
    other = _app("beta", tmp_path / "beta", free_port())
    app = _app("alpha", tmp_path / "alpha", free_port(), env={"ECHO_EXIT_CODE": "3"})
    with LocalDaprRun(write_run_file(tmp_path, [other, app])) as run:
        assert run.finish(timeout=20) == 3
    assert "== APP - alpha == echo app: exiting early" in run.stdout
    assert _one_line_error(run) == "localdapr: app alpha exited with code 3"


def test_app_that_never_listens_times_out(tmp_path: Path) -> None:
    """An app that does not open its appPort within --startup-timeout fails the run."""
    app = _app(
        "alpha",
        tmp_path / "alpha",
        free_port(),
        command=[sys.executable, "-c", "import time; time.sleep(60)"],
    )
    with LocalDaprRun(write_run_file(tmp_path, [app]), "--startup-timeout", "1") as run:
        assert run.finish(timeout=20) != 0
    assert "alpha" in _one_line_error(run)


def test_sidecars_only_run_file_still_works(tmp_path: Path) -> None:
    """Apps without a command get a sidecar only (the contract suite runs its apps itself)."""
    http_port = free_port()
    run_file = write_run_file(tmp_path, [{"appID": "solo", "appDirPath": ".", "daprHTTPPort": http_port}])
    with LocalDaprRun(run_file) as run:
        run.wait_ready()
        assert httpx.get(f"http://127.0.0.1:{http_port}/v1.0/healthz").status_code == 204
        assert run.stop() == 0


def test_restart_keeps_the_data_dir_and_reset_wipes_it(tmp_path: Path) -> None:
    """State survives a restart (default data dir beside the run file); --reset and `reset` wipe it."""
    http_port = free_port()
    run_file = write_run_file(tmp_path, [{"appID": "keep", "appDirPath": ".", "daprHTTPPort": http_port}])
    (tmp_path / "components" / "statestore.yaml").write_text(STATESTORE)
    state = f"http://127.0.0.1:{http_port}/v1.0/state/statestore"
    with LocalDaprRun(run_file) as run:
        run.wait_ready()
        assert httpx.post(state, json=[{"key": "k", "value": {"n": 1}}]).status_code == 204
        assert run.stop() == 0
    data_dir = tmp_path / ".data" / "localdapr"
    assert data_dir.is_dir()
    with LocalDaprRun(run_file) as run:
        run.wait_ready()
        assert json.loads(httpx.get(f"{state}/k").content) == {"n": 1}
        assert run.stop() == 0
    with LocalDaprRun(run_file, "--reset") as run:
        run.wait_ready()
        assert httpx.get(f"{state}/k").status_code == 204  # a missing key: no content
        assert httpx.post(state, json=[{"key": "k", "value": 2}]).status_code == 204
        assert run.stop() == 0
    from localdapr.cli import main

    assert main(["reset", "-f", str(run_file)]) == 0
    assert not data_dir.exists()
