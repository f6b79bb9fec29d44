"""A Configuration's `spec.workflow.stateRetentionPolicy`: ended workflows purged after a TTL.

dapr/dapr `pkg/config/configuration.go` WorkflowStateRetentionPolicy (`anyTerminal`,
`completed`, `failed`, `terminated`; a status's own TTL wins over `anyTerminal`, a status with
neither is kept), `pkg/actors/targets/workflow/orchestrator/run.go` handleRetention (a one-shot
reminder due at the end time plus the TTL) and `retentioner/retentioner.go` (its purge). The
reminder lives in the scheduler, so a purge that comes due while the sidecar is down happens
once it is back. A purged instance is gone: HTTP get answers 404 ERR_INSTANCE_ID_NOT_FOUND.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dapr.ext.workflow as wf
import httpx
import pytest

from .runtimes import Private, Sidecar, private_sidecars

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
      value: "host=localhost user=postgres password=postgres port=5432 database=dapr_retention"
    - name: actorStateStore
      value: "true"
"""


def config(name: str, policy: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Configuration",
        "metadata": {"name": name},
        "spec": {"workflow": {"stateRetentionPolicy": policy}},
    }


APPS = [
    # failed: no TTL, no anyTerminal: kept
    {"app_id": "ret-a", "config": config("ret-a", {"completed": "2s", "terminated": "4s"})},
    # completed's own TTL wins over anyTerminal
    {"app_id": "ret-b", "config": config("ret-b", {"anyTerminal": "2s", "completed": "1h"})},
]


def worker(sidecar: Sidecar) -> wf.WorkflowRuntime:
    """A worker with functions of its own (the SDK refuses a function registered twice)."""

    def ret_done(ctx: wf.DaprWorkflowContext, value: Any) -> Any:
        return value

    def ret_fail(ctx: wf.DaprWorkflowContext, value: Any) -> Any:
        raise ValueError("boom")

    def ret_wait(ctx: wf.DaprWorkflowContext, value: Any):
        return (yield ctx.wait_for_external_event("never"))

    runtime = wf.WorkflowRuntime(host="127.0.0.1", port=str(sidecar.grpc_port))
    for fn in (ret_done, ret_fail, ret_wait):
        runtime.register_workflow(fn, name=fn.__name__)
    runtime.start()
    assert runtime.wait_for_worker_ready(timeout=20)
    return runtime


@pytest.fixture(scope="module")
def sidecars(runtime: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Private]:
    workdir = Path(tmp_path_factory.mktemp("retention"))
    with private_sidecars(runtime, workdir, APPS, {"statestore.yaml": STATESTORE}) as started:
        yield started


@pytest.fixture(scope="module")
def workers(sidecars: Private) -> Iterator[dict[str, wf.WorkflowRuntime]]:
    """A connected worker per app; a test may replace one."""
    running = {app_id: worker(sidecars[app_id]) for app_id in ("ret-a", "ret-b")}
    yield running
    for w in running.values():
        w.shutdown()


def client(sidecar: Sidecar) -> wf.DaprWorkflowClient:
    return wf.DaprWorkflowClient(host="127.0.0.1", port=str(sidecar.grpc_port))


def ended(sidecar: Sidecar, name: str, status: wf.WorkflowStatus) -> str:
    """An instance of workflow `name` that has ended with `status` (terminated if it waits)."""
    c = client(sidecar)
    iid = c.schedule_new_workflow(name, input=1, instance_id=f"{name}-{uuid.uuid4().hex[:10]}")
    if status == wf.WorkflowStatus.TERMINATED:
        c.wait_for_workflow_start(iid, timeout_in_seconds=20)
        c.terminate_workflow(iid)
    state = c.wait_for_workflow_completion(iid, timeout_in_seconds=20)
    c.close()
    assert state is not None and state.runtime_status == status
    return iid


def get(sidecar: Sidecar, iid: str) -> httpx.Response:
    return httpx.get(f"{sidecar.http_url}/v1.0/workflows/dapr/{iid}", timeout=5)


def wait_gone(sidecar: Sidecar, iid: str, timeout: float = 20) -> None:
    # Polled past a 500 too: daprd 1.18.2 reads an instance's metadata and then its history
    # keys, so a read that straddles the purge's transaction answers ERR_GET_WORKFLOW
    # ("history key ... missing from state store") once, not 404.
    deadline = time.monotonic() + timeout
    while (resp := get(sidecar, iid)).status_code != 404 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert resp.status_code == 404, f"{iid} still there after {timeout}s: {resp.text}"
    assert resp.json()["errorCode"] == "ERR_INSTANCE_ID_NOT_FOUND"


def status_of(sidecar: Sidecar, iid: str) -> str:
    resp = get(sidecar, iid)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["runtimeStatus"])


def test_completed_instance_is_purged_and_failed_one_kept(sidecars: Private, workers: Any) -> None:
    """`completed: 2s`: the completed instance goes; the failed one (no TTL for FAILED, no
    anyTerminal), which ended first, is still there after it."""
    a = sidecars["ret-a"]
    failed = ended(a, "ret_fail", wf.WorkflowStatus.FAILED)
    done = ended(a, "ret_done", wf.WorkflowStatus.COMPLETED)
    wait_gone(a, done)
    assert status_of(a, failed) == "FAILED"


def test_status_ttl_wins_over_any_terminal(sidecars: Private, workers: Any) -> None:
    """`anyTerminal: 2s, completed: 1h`: the terminated instance goes after anyTerminal's 2 s,
    the completed one, which ended first, stays for its own hour."""
    b = sidecars["ret-b"]
    done = ended(b, "ret_done", wf.WorkflowStatus.COMPLETED)
    terminated = ended(b, "ret_wait", wf.WorkflowStatus.TERMINATED)
    wait_gone(b, terminated)
    assert status_of(b, done) == "COMPLETED"


def test_purge_waits_for_a_worker(sidecars: Private, workers: dict[str, wf.WorkflowRuntime]) -> None:
    """The retention reminder goes to the retentioner actor, whose type daprd registers with
    the workflow actors only while a worker is connected: a purge due without one waits."""
    b = sidecars["ret-b"]
    terminated = ended(b, "ret_wait", wf.WorkflowStatus.TERMINATED)
    workers["ret-b"].shutdown()
    deadline = time.monotonic() + 4  # anyTerminal is 2 s
    while time.monotonic() < deadline:
        assert status_of(b, terminated) == "TERMINATED"
        time.sleep(0.2)
    workers["ret-b"] = worker(b)
    wait_gone(b, terminated)


def test_purge_due_while_the_sidecar_is_down_happens_after_restart(sidecars: Private, workers: Any) -> None:
    """`terminated: 4s` comes due while the sidecars are killed; once they are back (and the
    worker has reconnected) the instance is purged."""
    a = sidecars["ret-a"]
    terminated = ended(a, "ret_wait", wf.WorkflowStatus.TERMINATED)
    purge_at = time.monotonic() + 4
    assert status_of(a, terminated) == "TERMINATED"
    sidecars.kill()
    time.sleep(max(0.0, purge_at - time.monotonic()) + 0.5)  # not an assertion: let it come due
    sidecars.start()
    wait_gone(a, terminated, timeout=60)
