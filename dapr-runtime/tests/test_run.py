"""`dapr-runtime run -f`: the real runtime for a run file, and what happens when things go wrong.

Each test starts the real thing (Postgres, Redis, placement, scheduler, daprd)
for a one-app run file whose app is Python's own HTTP server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from localdapr.runner import free_port

COMPONENTS: list[dict[str, object]] = [
    {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "store"},
        "spec": {
            "type": "state.postgresql",
            "version": "v1",
            "metadata": [
                {
                    "name": "connectionString",
                    "value": "host=localhost port=5432 user=postgres database=runtest",
                }
            ],
        },
    },
    {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "pubsub"},
        "spec": {
            "type": "pubsub.redis",
            "version": "v1",
            "metadata": [{"name": "redisHost", "value": "localhost:6379"}],
        },
    },
]


def run_file(folder: Path, command: list[str], app_port: int, components: list[dict[str, object]]) -> Path:
    (folder / "resources").mkdir()
    (folder / "resources" / "components.yaml").write_text(yaml.safe_dump_all(components))
    app = {"appID": "web", "appDirPath": ".", "appPort": app_port, "command": command}
    doc = {"version": 1, "common": {"resourcesPath": "./resources"}, "apps": [app]}
    (folder / "dapr.yaml").write_text(yaml.safe_dump(doc))
    return folder / "dapr.yaml"


def start(file: Path) -> subprocess.Popen[str]:
    gateway = ["--gateway-port", str(free_port())]
    return subprocess.Popen(
        [sys.executable, "-m", "dapr_runtime.cli", "run", "-f", str(file), *gateway],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_ready(process: subprocess.Popen[str], timeout: float = 120) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith("dapr-runtime: ready"):
            return line
        assert time.monotonic() < deadline, "".join(seen[-30:])
    raise AssertionError("the run ended before it was ready:\n" + "".join(seen[-30:]))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting for its (dead) parent's reaper counts as gone.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_killed_runner_leaves_no_process_behind(tmp_path: Path) -> None:
    port = free_port()
    file = run_file(tmp_path, [sys.executable, "-m", "http.server", str(port)], port, COMPONENTS)
    runner = start(file)
    try:
        wait_ready(runner)
        record = json.loads((tmp_path / ".data" / "run.json").read_text())
        pids = {p["name"]: p["pid"] for p in record["pids"]}
        assert {"postgres", "redis", "placement", "scheduler", "daprd web", "APP - web"} <= set(pids)
        assert all(alive(pid) for pid in pids.values())

        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(10)
        deadline = time.monotonic() + 20
        while (left := [n for n, pid in pids.items() if alive(pid)]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, f"still running after the runner died: {left}"
    finally:
        if runner.poll() is None:
            runner.kill()


def test_an_app_that_exits_at_start_is_named_with_its_log_and_everything_stops(tmp_path: Path) -> None:
    port = free_port()
    file = run_file(tmp_path, [sys.executable, "-c", "raise SystemExit('no config')"], port, COMPONENTS)
    runner = start(file)
    output, _ = runner.communicate(timeout=180)
    assert runner.returncode != 0
    assert "APP - web exited with code 1" in output, output
    assert f"its log: {tmp_path / '.data' / 'dapr' / 'logs' / 'web.log'}" in output, output
    assert not (tmp_path / ".data" / "run.json").exists()


def test_a_daprd_that_cannot_start_is_named_with_its_log(tmp_path: Path) -> None:
    port = free_port()
    broken = [
        *COMPONENTS,
        {**COMPONENTS[1], "metadata": {"name": "odd"}, "spec": {"type": "pubsub.nosuch", "version": "v1"}},
    ]
    file = run_file(tmp_path, [sys.executable, "-m", "http.server", str(port)], port, broken)
    runner = start(file)
    output, _ = runner.communicate(timeout=180)
    assert runner.returncode != 0
    assert "daprd web exited with code" in output, output
    assert "daprd-web.log" in output, output


def test_without_redis_the_message_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make` installs Postgres and Redis (scripts/infra-deps.sh); a run without them must say so."""
    from dapr_runtime.infra import InfraMissing, redis_server

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InfraMissing, match="apt-get install postgresql redis-server"):
        redis_server()
