"""`localdapr run -f`: what `dapr run -f` does for apps with a `command`.

Mirrors the Dapr CLI (dapr/cli pkg/standalone/run.go, cmd/run.go): the
environment it exports to each app, prefixed logs, stopping everything on
SIGTERM/Ctrl-C, and failing fast (one line, non-zero exit) on a port in use,
a missing command or an app that exits. And, beyond the CLI, nothing outlives a
localdapr killed with `kill -9`: the kernel kills the apps with it, and the
next start stops what the dead run's `.data/run.json` still names.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from localdapr import lifeline

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
        app_pid = int(re.search(r"pid (\d+) listening", run.wait_line(lambda line: "listening" in line))[1])  # type: ignore[index]
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
        pid = int(re.search(r"pid (\d+) listening", run.wait_line(lambda line: "listening" in line))[1])  # type: ignore[index]
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


# -- kill -9 of localdapr: nothing outlives it ----------------------------------------


def _listening_pid(run: LocalDaprRun, app_id: str) -> int:
    line = run.wait_line(lambda line: line.startswith(f"== APP - {app_id} == ") and "listening" in line)
    return int(re.search(r"pid (\d+) listening", line)[1])  # type: ignore[index]


def _port_free(port: int) -> bool:
    """As the runner checks it: a port whose only traces are TIME_WAIT connections is free."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def _kill(pid: int) -> None:
    """Test cleanup: never leave a process behind, whatever the outcome."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _record_path(folder: Path) -> Path:
    return folder / ".data" / "run.json"


def _write_record(folder: Path, record: dict[str, object]) -> Path:
    path = _record_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


def _leftover_line(run: LocalDaprRun) -> str:
    lines = [line for line in run.stdout if line.startswith("localdapr: the run of pid")]
    assert len(lines) == 1, run.output()
    return lines[0]


def test_kill_9_of_localdapr_takes_its_apps_with_it(tmp_path: Path) -> None:
    """`kill -9` of localdapr: the kernel kills the apps too (PR_SET_PDEATHSIG), so their ports are
    free at once. While ready, the run is described in `.data/run.json` beside the run file."""
    port, http_port, grpc_port, gateway_port = free_port(), free_port(), free_port(), free_port()
    app = _app("alpha", tmp_path / "alpha", port, daprHTTPPort=http_port, daprGRPCPort=grpc_port)
    run_file = write_run_file(tmp_path, [app])
    (tmp_path / "gateway.yaml").write_text("routes:\n  /alpha: alpha\n")
    with LocalDaprRun(run_file, "--gateway-port", str(gateway_port)) as run:
        run.wait_ready()
        app_pid = _listening_pid(run, "alpha")
        try:
            assert json.loads(_record_path(tmp_path).read_text()) == {
                "runtime": "localdapr",
                "pid": run.process.pid,
                "gateway": f"http://localhost:{gateway_port}",
                "apps": {
                    "alpha": {
                        "app_port": port,
                        "dapr_http_port": http_port,
                        "dapr_grpc_port": grpc_port,
                        "pid": app_pid,
                    }
                },
            }
            run.process.kill()
            run.process.wait(10)
            wait_until(lambda: not alive(app_pid) and _port_free(port), 5, "the app to die with localdapr")
        finally:
            _kill(app_pid)


def test_next_start_stops_what_a_dead_run_left_running(tmp_path: Path) -> None:
    """A run.json whose runner is dead: the next start stops the app and the other processes it
    names, says so in one line, and runs on the same ports. While that run is going, another start
    fails on the ports in use and leaves the record alone; a clean stop removes it."""
    port, http_port = free_port(), free_port()
    run_file = write_run_file(tmp_path, [_app("alpha", tmp_path / "alpha", port, daprHTTPPort=http_port)])
    env = {**os.environ, "APP_ID": "alpha", "APP_PORT": str(port)}
    # Started here, in their own sessions: no runner is their parent, as after a crash of an old version.
    leftover = subprocess.Popen(echo_command(), env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    helper = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        wait_until(lambda: not _port_free(port), 10, "the leftover app to listen")
        app = {
            "app_port": port,
            "dapr_http_port": http_port,
            "dapr_grpc_port": free_port(),
            "pid": leftover.pid,
        }
        record = _write_record(
            tmp_path,
            {
                "runtime": "localdapr",
                "pid": _dead_pid(),
                "gateway": None,
                "apps": {"alpha": app},
                "pids": [{"name": "helper", "pid": helper.pid, "cmd": ["sleep", "600"]}],
            },
        )
        with LocalDaprRun(run_file) as run:
            run.wait_ready()
            assert leftover.wait(5) == -signal.SIGTERM
            assert helper.wait(5) == -signal.SIGTERM
            line = _leftover_line(run)
            assert f"stopped app alpha (pid {leftover.pid}), helper (pid {helper.pid})" in line
            new = json.loads(record.read_text())
            assert (new["pid"], new["apps"]["alpha"]["pid"]) == (
                run.process.pid,
                _listening_pid(run, "alpha"),
            )
            with LocalDaprRun(run_file) as second:
                assert second.finish(timeout=15) != 0
            assert f"port {http_port}" in _one_line_error(second)
            assert json.loads(record.read_text()) == new
            assert run.stop() == 0
        assert not record.exists()
    finally:
        for process in (leftover, helper):
            _kill(process.pid)
            process.wait(5)


def test_a_stale_record_never_kills_an_unrelated_process(tmp_path: Path) -> None:
    """A pid of a stale run.json now held by an unrelated process (its command line is not the app's
    or the recorded one) is left alone; the stale record is replaced all the same."""
    run_file = write_run_file(tmp_path, [_app("alpha", tmp_path / "alpha", free_port())])
    unrelated = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        app = {"app_port": 1, "dapr_http_port": 2, "dapr_grpc_port": 3, "pid": unrelated.pid}
        record = _write_record(
            tmp_path,
            {
                "runtime": "localdapr",
                "pid": _dead_pid(),
                "gateway": None,
                "apps": {"alpha": app},
                "pids": [{"name": "daprd", "pid": unrelated.pid, "cmd": "daprd --app-id alpha"}],
            },
        )
        with LocalDaprRun(run_file) as run:
            run.wait_ready()
            assert _leftover_line(run).endswith("nothing of it was still running")
            assert json.loads(record.read_text())["pid"] == run.process.pid
            assert run.stop() == 0
        assert unrelated.poll() is None
    finally:
        _kill(unrelated.pid)
        unrelated.wait(5)


def test_what_an_app_started_is_stopped_by_the_next_start(tmp_path: Path) -> None:
    """The kernel kills only the apps themselves with localdapr; what an app started is left in its
    process group, and the next start stops it (recognised by the group and the app's APP_ID)."""
    port = free_port()
    run_file = write_run_file(tmp_path, [_app("alpha", tmp_path / "alpha", port, env={"ECHO_CHILD": "1"})])
    with LocalDaprRun(run_file) as run:
        run.wait_ready()
        child = int(run.wait_line(lambda line: "child pid" in line).rsplit(" ", 1)[1])
        app_pid = _listening_pid(run, "alpha")
    try:  # leaving the block killed localdapr with SIGKILL
        wait_until(lambda: not alive(app_pid), 5, "the app to die with localdapr")
        assert alive(child)
        with LocalDaprRun(run_file) as run:
            run.wait_ready()
            assert f"stopped a process of app alpha (pid {child})" in _leftover_line(run)
            assert not alive(child)
            assert run.stop() == 0
    finally:
        _kill(app_pid)
        _kill(child)


def test_a_runner_pid_reused_after_the_record_was_written_is_not_a_live_run(tmp_path: Path) -> None:
    """The recorded runner pid, alive but started after the record was written, is another
    process: the run is dead (its leftovers are stopped, not taken for a run still going)."""
    record = _write_record(tmp_path, {"runtime": "localdapr", "pid": os.getpid(), "apps": {}})
    assert lifeline.runner_alive(record)
    later = subprocess.Popen(["sleep", "600"])
    try:
        _write_record(tmp_path, {"runtime": "localdapr", "pid": later.pid, "apps": {}})
        os.utime(record, (time.time() - 60, time.time() - 60))
        assert not lifeline.runner_alive(record)
        assert lifeline.stop_leftovers(record) == []
        assert not record.exists()
        assert later.poll() is None
    finally:
        later.kill()
        later.wait(5)


def test_a_child_whose_parent_died_before_prctl_exits_before_exec() -> None:
    """The race PR_SET_PDEATHSIG alone leaves open: the parent died between fork and prctl (the
    child was already re-parented, so no signal will come). The child sees it and exits at once."""
    preexec = lifeline.die_with_parent(parent_pid=_dead_pid())
    child = subprocess.Popen(["sleep", "600"], preexec_fn=preexec)
    try:
        assert child.wait(5) == 1
    finally:
        child.kill()
        child.wait(5)
