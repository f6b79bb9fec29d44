"""`python -m dapr_runtime.workflows` against a localdapr sidecar started here, its sagas run by
a real SDK worker (`WorkflowRuntime`) in this process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dapr.ext.workflow as wf
import httpx
import pytest
import yaml

NO_RUN = "no running system found (.data/run.json): start it with make run or make run-dapr, or pass --grpc"
TOKEN = "wfcli-secret"
STORE = {
    "apiVersion": "dapr.io/v1alpha1",
    "kind": "Component",
    "metadata": {"name": "store"},
    "spec": {
        "type": "state.postgresql",
        "version": "v1",
        "metadata": [
            {"name": "connectionString", "value": "host=localhost"},
            {"name": "actorStateStore", "value": "true"},
        ],
    },
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalDapr:
    grpc_port: int
    http_port: int
    process: subprocess.Popen[bytes]

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


def start_localdapr(folder: Path, env: dict[str, str] | None = None) -> LocalDapr:
    """`localdapr run -f` with one app, `order`, whose process is this test (no command)."""
    grpc_port, http_port = free_port(), free_port()
    app = {"appID": "order", "appDirPath": ".", "daprGRPCPort": grpc_port, "daprHTTPPort": http_port}
    # Workflows need an actor state store, on daprd and so on localdapr (its store is SQLite anyway).
    (folder / "resources").mkdir(exist_ok=True)
    (folder / "resources" / "store.yaml").write_text(yaml.safe_dump(STORE))
    run = {"version": 1, "common": {"resourcesPath": "./resources"}, "apps": [app]}
    (folder / "dapr.yaml").write_text(yaml.safe_dump(run))
    log = open(folder / "localdapr.log", "ab")  # noqa: SIM115 - owned by the process
    process = subprocess.Popen(
        [sys.executable, "-m", "localdapr", "run", "-f", "dapr.yaml", "--data-dir", "data"],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{http_port}/v1.0/healthz", timeout=1).status_code == 204:
                return LocalDapr(grpc_port, http_port, process)
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"localdapr did not start: {(folder / 'localdapr.log').read_text()}")


def stop(run: LocalDapr) -> None:
    run.process.terminate()
    try:
        run.process.wait(15)
    except subprocess.TimeoutExpired:
        run.process.kill()


def cli(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DAPR_API_TOKEN"}
    if token:
        env["DAPR_API_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "dapr_runtime.workflows", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def ok(*args: str) -> list[str]:
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


# -- the sagas -----------------------------------------------------------------------


def cli_reserve(ctx: Any, order: dict[str, Any]) -> dict[str, Any]:
    return {"reserved": order["quantity"]}


def cli_charge(ctx: Any, order: dict[str, Any]) -> str:
    return "receipt-" + "x" * 200  # longer than a history line shows


def cli_saga(ctx: wf.DaprWorkflowContext, order: dict[str, Any]):
    reservation = yield ctx.call_activity(cli_reserve, input=order)
    receipt = yield ctx.call_activity(cli_charge, input=order)
    return {"reservation": reservation, "receipt": receipt[:12]}


def cli_declined(ctx: wf.DaprWorkflowContext, order: dict[str, Any]) -> None:
    raise ValueError("card declined")


def cli_waiting(ctx: wf.DaprWorkflowContext, order: dict[str, Any]):
    return (yield ctx.wait_for_external_event("approval"))


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDapr]:
    run = start_localdapr(tmp_path_factory.mktemp("wfcli"))
    yield run
    stop(run)


@pytest.fixture(scope="module")
def sagas(sidecar: LocalDapr) -> Iterator[dict[str, str]]:
    """Three sagas, started in this order: one completed, one failed, one still waiting."""
    runtime = wf.WorkflowRuntime(host="127.0.0.1", port=str(sidecar.grpc_port))
    for fn in (cli_saga, cli_declined, cli_waiting):
        runtime.register_workflow(fn, name=fn.__name__)
    for fn in (cli_reserve, cli_charge):
        runtime.register_activity(fn, name=fn.__name__)
    runtime.start()
    assert runtime.wait_for_worker_ready(timeout=20)
    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(sidecar.grpc_port))
    order = {"id_product": 1, "quantity": 2}
    ids = {}
    for key, name in (("completed", "cli_saga"), ("failed", "cli_declined"), ("waiting", "cli_waiting")):
        ids[key] = client.schedule_new_workflow(
            name, input=order, instance_id=f"order-{uuid.uuid4().hex[:8]}"
        )
    for key in ("completed", "failed"):
        assert client.wait_for_workflow_completion(ids[key], timeout_in_seconds=20) is not None
    assert client.wait_for_workflow_start(ids["waiting"], timeout_in_seconds=20) is not None
    yield ids
    client.close()
    runtime.shutdown()


def fields(line: str) -> list[str]:
    """timestamp, type, then name and payload when present (names have no spaces)."""
    return line.split(maxsplit=3)


# -- tests ---------------------------------------------------------------------------


def test_list_shows_every_saga_with_its_status_in_creation_order(
    sidecar: LocalDapr, sagas: dict[str, str]
) -> None:
    lines = ok("list", "--grpc", sidecar.grpc)
    assert [line.split()[0] for line in lines] == list(sagas.values())
    status = {line.split()[0]: line.split()[1] for line in lines}
    assert status == {sagas["completed"]: "COMPLETED", sagas["failed"]: "FAILED", sagas["waiting"]: "RUNNING"}
    for line in lines:
        words = line.split()
        assert words[2] == "created" and words[4] == "updated"
        assert words[3].endswith("Z") and words[3] <= words[5]


def test_without_grpc_the_sidecar_comes_from_run_json(
    sidecar: LocalDapr, sagas: dict[str, str], tmp_path: Path
) -> None:
    record = {
        "runtime": "localdapr",
        "pid": sidecar.process.pid,
        "gateway": "http://localhost:8080",
        "apps": {
            "order": {
                "app_port": 8001,
                "dapr_http_port": sidecar.http_port,
                "dapr_grpc_port": sidecar.grpc_port,
            }
        },
    }
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps(record))
    assert ok("list", "--run-file", str(run_file)) == ok("list", "--grpc", sidecar.grpc)
    assert ok("history", sagas["completed"], "--run-file", str(run_file))

    other = cli("list", "--app", "billing", "--run-file", str(run_file))
    assert other.returncode == 1
    assert "no sidecar for app 'billing'" in other.stderr and "order" in other.stderr


def test_history_prints_one_line_per_event_in_order(sidecar: LocalDapr, sagas: dict[str, str]) -> None:
    rows = [fields(line) for line in ok("history", sagas["completed"], "--grpc", sidecar.grpc)]
    assert [r[1] for r in rows] == [
        "WorkflowStarted",
        "ExecutionStarted",
        "TaskScheduled",
        "WorkflowStarted",
        "TaskCompleted",
        "TaskScheduled",
        "WorkflowStarted",
        "TaskCompleted",
        "ExecutionCompleted",
    ]
    assert all(r[0].endswith("Z") for r in rows)
    named = {(r[1], r[2]) for r in rows if len(r) > 2}
    assert ("ExecutionStarted", "cli_saga") in named
    # A completion is named after the activity it completes.
    assert [r[2] for r in rows if r[1] in ("TaskScheduled", "TaskCompleted")] == [
        "cli_reserve",
        "cli_reserve",
        "cli_charge",
        "cli_charge",
    ]
    assert json.loads(rows[1][3]) == {"id_product": 1, "quantity": 2}
    assert json.loads(rows[4][3]) == {"reserved": 2}
    charged = rows[7][3]
    assert charged.startswith('"receipt-xxx') and charged.endswith("…") and len(charged) == 60
    assert rows[8][2] == "COMPLETED"
    assert json.loads(rows[8][3])["receipt"] == "receipt-xxxx"


def test_history_of_a_failed_and_of_a_waiting_saga(sidecar: LocalDapr, sagas: dict[str, str]) -> None:
    failed = [fields(line) for line in ok("history", sagas["failed"], "--grpc", sidecar.grpc)]
    assert failed[-1][1:3] == ["ExecutionCompleted", "FAILED"]
    assert "card declined" in failed[-1][3]

    waiting = [fields(line) for line in ok("history", sagas["waiting"], "--grpc", sidecar.grpc)]
    assert [r[1] for r in waiting] == ["WorkflowStarted", "ExecutionStarted", "TimerCreated"]
    assert waiting[2][2:] == ["approval", "no timeout"]  # the SDK's timer for a wait without timeout


def test_unknown_instance(sidecar: LocalDapr, sagas: dict[str, str]) -> None:
    done = cli("history", "order-missing", "--grpc", sidecar.grpc)
    assert done.returncode == 1
    assert "no workflow 'order-missing'" in done.stderr
    assert done.stdout == ""


def test_without_a_run_json_it_says_how_to_start_one(tmp_path: Path) -> None:
    for args in (["list"], ["history", "order-1"]):
        done = cli(*args, "--run-file", str(tmp_path / "run.json"))
        assert done.returncode == 1
        assert done.stderr.strip() == NO_RUN
        assert done.stdout == ""


def test_a_stopped_sidecar_is_a_clear_error() -> None:
    done = cli("list", "--grpc", f"127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert "cannot reach the sidecar" in done.stderr


def test_dapr_api_token_is_sent(tmp_path: Path) -> None:
    run = start_localdapr(tmp_path, env={"DAPR_API_TOKEN": TOKEN})
    try:
        refused = cli("list", "--grpc", run.grpc)
        assert refused.returncode == 1 and "DAPR_API_TOKEN" in refused.stderr
        accepted = cli("list", "--grpc", run.grpc, token=TOKEN)
        assert accepted.returncode == 0, accepted.stderr
        assert accepted.stdout == "" and "no workflows" in accepted.stderr
    finally:
        stop(run)
