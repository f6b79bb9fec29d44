"""Workflows survive a worker killed mid-activity and a sidecar killed mid-workflow.

Workers run in their own processes (wf_worker_recovery.py) so they can be
killed with SIGKILL; the sidecar is restarted by the `restartable` fixture.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import dapr.ext.workflow as wf
import pytest

from .conftest import Target
from .test_workflow_api import stays

WORKER = Path(__file__).with_name("wf_worker_recovery.py")


class WorkerProcess:
    """A worker subprocess whose stdout lines the test can wait for."""

    def __init__(self, target: Target, mode: str, log: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(target.main.grpc_port), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(log, "ab"),  # noqa: SIM115 - owned by the process
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.expect("ready", timeout=30)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def expect(self, prefix: str, timeout: float = 20.0) -> str:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"worker never printed {prefix!r}") from None
            if line.startswith(prefix):
                return line

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def workers(target: Target, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        if w.proc.poll() is None:
            w.kill()


def start_worker(target: Target, workers: list[WorkerProcess], mode: str, tmp_path: Path) -> WorkerProcess:
    w = WorkerProcess(target, mode, tmp_path / f"worker-{len(workers)}.log")
    workers.append(w)
    return w


def test_worker_killed_mid_activity_another_worker_finishes(
    target: Target, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """durabletask-go backend/executor.go GetWorkItems: work items owned by a stream that
    disconnects are handed out again, so another worker runs the activity (at-least-once)."""
    first = start_worker(target, workers, "hold", tmp_path)
    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(target.main.grpc_port))
    key = f"kill-worker-{uuid.uuid4().hex[:8]}"
    iid = client.schedule_new_workflow("wfrec_two_steps", input=key, instance_id=key)
    first.expect(f"started wfrec_slow {key} 1")
    first.kill()

    second = start_worker(target, workers, "run", tmp_path)
    second.expect(f"started wfrec_slow {key} 1")
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=20)
    assert state is not None and state.runtime_status == wf.WorkflowStatus.COMPLETED
    assert state.serialized_output == f'"{key}:run:{second.proc.pid}:1+fast"'
    client.close()


def test_sidecar_killed_mid_workflow_resumes_after_restart(
    restartable: Target, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """Dapr workflows are durable (docs: "workflow architecture", state in the actor state
    store, timers as reminders): after a crash of the sidecar, a pending timer still fires,
    a pending activity is dispatched again, and a never-firing event wait keeps waiting."""
    target = restartable
    worker = start_worker(target, workers, "once", tmp_path)
    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(target.main.grpc_port))
    key = f"kill-sidecar-{uuid.uuid4().hex[:8]}"
    iid = client.schedule_new_workflow("wfrec_restart", input=[key, 4], instance_id=key)
    worker.expect(f"started wfrec_slow {key} 1")  # activity in flight, 4 s timer pending

    target.kill()
    worker.send("release")  # its result cannot be delivered: the sidecar is gone
    target.start()

    # The worker reconnects by itself; the activity runs again, the timer fires.
    worker.expect(f"started wfrec_slow {key} 2", timeout=30)
    worker.expect(f"waiting {key}", timeout=30)  # timer fired, activity done
    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(target.main.grpc_port))
    stays(client, iid, wf.WorkflowStatus.RUNNING)  # parked on wait_for_external_event (9999-12-31 timer)
    state = client.get_workflow_state(iid)
    assert state is not None and state.runtime_status == wf.WorkflowStatus.RUNNING
    assert state.serialized_custom_status == "waiting for go"

    target.kill()  # the sentinel timer must survive (and still not fire) a second restart
    target.start()
    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(target.main.grpc_port))
    client.raise_workflow_event(iid, "go", data="now")
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=30)
    assert state is not None and state.runtime_status == wf.WorkflowStatus.COMPLETED
    assert state.serialized_output == f'"{key}:once:{worker.proc.pid}:2|now+fast"'
    client.close()


def test_work_is_shared_between_connected_workers(
    target: Target, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """durabletask-go executor.go: every connected GetWorkItems stream takes items from one
    queue, so several workers of an app share the work and each item runs once."""
    pids = {start_worker(target, workers, "run", tmp_path).proc.pid for _ in range(2)}
    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(target.main.grpc_port))
    keys = [f"shared-{uuid.uuid4().hex[:8]}" for _ in range(12)]
    for key in keys:
        client.schedule_new_workflow("wfrec_two_steps", input=key, instance_id=key)
    ran_on = set()
    for key in keys:
        state = client.wait_for_workflow_completion(key, timeout_in_seconds=20)
        assert state is not None and state.runtime_status == wf.WorkflowStatus.COMPLETED
        output = state.serialized_output or ""
        assert output.startswith(f'"{key}:run:') and output.endswith(':1+fast"'), output
        ran_on.add(int(output.split(":")[2]))
    assert ran_on == pids
    client.close()


def test_workflow_scheduled_before_any_worker_starts_when_one_connects(
    target: Target, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """daprd registers the workflow actor types only while a worker stream is open: a start
    with no worker connected waits (nothing is stored yet), and goes through as soon as one
    connects; the workflow then runs on it."""
    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(target.main.grpc_port))
    key = f"no-worker-{uuid.uuid4().hex[:8]}"
    started = threading.Thread(
        target=client.schedule_new_workflow,
        args=("wfrec_two_steps",),
        kwargs={"input": key, "instance_id": key},
    )
    started.start()
    started.join(1.5)
    assert started.is_alive()
    assert client.get_workflow_state(key) is None
    worker = start_worker(target, workers, "run", tmp_path)
    started.join(20)
    assert not started.is_alive()
    state = client.wait_for_workflow_completion(key, timeout_in_seconds=20)
    assert state is not None and state.serialized_output == f'"{key}:run:{worker.proc.pid}:1+fast"'
    client.close()
