"""`ListInstanceIDs` and `GetInstanceHistory`, the two RPCs behind `dapr workflow list` and
`dapr workflow history`, called with the SDK's generated `TaskHubSidecarServiceStub`.

The workflows run on test_workflow_api.py's `WorkflowRuntime` (`running_worker`). daprd serves
both RPCs from its actor backend (dapr/dapr `pkg/runtime/wfengine/backends/actors/actors.go`):
the list is a `KeysLike` over the workflows' `metadata` keys in the actor state store
(`pkg/runtime/wfengine/state/list/list.go`; components-contrib
`common/component/postgresql/v1/postgresql.go` for state.postgresql v1, this suite's store),
the history is the committed history of `state.LoadWorkflowState`
(`pkg/runtime/wfengine/state/state.go`). The sidecar holds every test module's instances, so
the list tests look only at their own ids within it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import dapr.ext.workflow as wf
import grpc
import pytest
from dapr.ext.workflow._durabletask.internal import protos as pb
from dapr.ext.workflow._durabletask.internal.orchestrator_service_pb2_grpc import TaskHubSidecarServiceStub

from .conftest import Target
from .test_workflow_api import activity, gates, new_id, running_worker, workflow


@activity
def wfinspect_echo(ctx: Any, value: Any) -> Any:
    return value


@workflow
def wfinspect_steps(ctx: wf.DaprWorkflowContext, prefix: str):
    first = yield ctx.call_activity(wfinspect_echo, input=f"{prefix}-a")
    second = yield ctx.call_activity(wfinspect_echo, input=f"{prefix}-b")
    return [first, second]


@pytest.fixture(scope="module")
def client(target: Target) -> Iterator[wf.DaprWorkflowClient]:
    with running_worker(target) as c:
        yield c


@pytest.fixture(scope="module")
def stub(target: Target) -> Iterator[TaskHubSidecarServiceStub]:
    with grpc.insecure_channel(target.main.grpc_address) as channel:
        yield TaskHubSidecarServiceStub(channel)


def run_steps(client: wf.DaprWorkflowClient, iid: str | None = None) -> str:
    iid = client.schedule_new_workflow("wfinspect_steps", input="x", instance_id=iid or new_id("insp"))
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=20)
    assert state is not None and state.runtime_status == wf.WorkflowStatus.COMPLETED
    return iid


def list_all(stub: TaskHubSidecarServiceStub) -> list[str]:
    resp = stub.ListInstanceIDs(pb.ListInstanceIDsRequest(), timeout=10)
    assert not resp.HasField("continuationToken")
    return list(resp.instanceIds)


def kinds(events: Any) -> list[str]:
    return [e.WhichOneof("eventType") for e in events]


def test_history_of_a_completed_workflow(
    client: wf.DaprWorkflowClient, stub: TaskHubSidecarServiceStub
) -> None:
    """dapr tests/integration/suite/daprd/workflow/get/activities.go and backends/actors/actors.go
    GetInstanceHistory: the stored history, each turn opened by a WorkflowStarted, each
    action confirmed by its event, the ExecutionStarted of the request, the results as sent."""
    iid = run_steps(client)
    events = stub.GetInstanceHistory(pb.GetInstanceHistoryRequest(instanceId=iid), timeout=10).events

    assert kinds(events) == [
        "workflowStarted",
        "executionStarted",
        "taskScheduled",
        "workflowStarted",
        "taskCompleted",
        "taskScheduled",
        "workflowStarted",
        "taskCompleted",
        "executionCompleted",
    ]
    started = events[1].executionStarted
    assert started.name == "wfinspect_steps"
    assert started.workflowInstance.instanceId == iid
    assert started.input.value == '"x"'
    for scheduled, completed, result in ((events[2], events[4], "x-a"), (events[5], events[7], "x-b")):
        assert scheduled.taskScheduled.name == "wfinspect_echo"
        assert completed.taskCompleted.taskScheduledId == scheduled.eventId
        assert json.loads(completed.taskCompleted.result.value) == result
    assert events[2].eventId != events[5].eventId
    done = events[8].executionCompleted
    assert done.workflowStatus == pb.ORCHESTRATION_STATUS_COMPLETED
    assert json.loads(done.result.value) == ["x-a", "x-b"]
    assert all(e.timestamp.seconds > 0 for e in events)


def test_history_of_a_running_workflow_is_what_has_been_committed(
    client: wf.DaprWorkflowClient, stub: TaskHubSidecarServiceStub
) -> None:
    """dapr pkg/runtime/wfengine/state/state.go LoadWorkflowState: a running instance's history
    holds its completed turns only; the pending activity's result is not there yet."""
    iid = new_id("insp-run")
    client.schedule_new_workflow("wfapi_gated", input=iid, instance_id=iid)
    try:
        deadline = time.monotonic() + 10
        while True:
            events = stub.GetInstanceHistory(pb.GetInstanceHistoryRequest(instanceId=iid), timeout=10).events
            if events or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert kinds(events) == ["workflowStarted", "executionStarted", "taskScheduled"]
        assert events[2].taskScheduled.name == "wfapi_gate"
    finally:
        gates.setdefault(iid, threading.Event()).set()
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=20)
    assert state is not None and state.runtime_status == wf.WorkflowStatus.COMPLETED
    events = stub.GetInstanceHistory(pb.GetInstanceHistoryRequest(instanceId=iid), timeout=10).events
    assert kinds(events)[-1] == "executionCompleted"


def test_history_of_an_unknown_instance_is_not_found(
    client: wf.DaprWorkflowClient, stub: TaskHubSidecarServiceStub
) -> None:
    """dapr tests/integration/suite/daprd/workflow/get/notfound.go; backends/actors/actors.go
    answers NotFound "workflow instance '<id>' not found" when there is no metadata."""
    iid = new_id("insp-none")
    with pytest.raises(grpc.RpcError) as err:
        stub.GetInstanceHistory(pb.GetInstanceHistoryRequest(instanceId=iid), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert iid in (err.value.details() or "")


def test_list_is_in_creation_order_and_pages(
    client: wf.DaprWorkflowClient, stub: TaskHubSidecarServiceStub
) -> None:
    """dapr tests/integration/suite/daprd/workflow/list/{base,pagination}.go; state.postgresql v1
    KeysLike: ordered by row id; no page size, everything and no token; with one, at most that
    many and a continuation token exactly when more remain (it reads one row more to know)."""
    mine = [run_steps(client) for _ in range(3)]

    everything = list_all(stub)
    assert [i for i in everything if i in mine] == mine
    assert len(set(everything)) == len(everything)

    # A few pages whatever the store holds (daprd's Postgres keeps earlier runs' instances).
    size = max(2, len(everything) // 4)
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        resp = stub.ListInstanceIDs(
            pb.ListInstanceIDsRequest(pageSize=size, continuationToken=token), timeout=10
        )
        pages.append(list(resp.instanceIds))
        if not resp.HasField("continuationToken"):
            break
        token = resp.continuationToken
        assert len(resp.instanceIds) == size and token
    assert 0 < len(pages[-1]) <= size
    assert [i for page in pages for i in page] == everything

    exact = stub.ListInstanceIDs(pb.ListInstanceIDsRequest(pageSize=len(everything)), timeout=10)
    assert list(exact.instanceIds) == everything
    assert not exact.HasField("continuationToken")


def test_purged_instances_leave_the_list_and_recreated_ones_keep_their_place(
    client: wf.DaprWorkflowClient, stub: TaskHubSidecarServiceStub
) -> None:
    """dapr tests/integration/suite/daprd/workflow/list/purge.go: a purge deletes the `metadata`
    key, so the id leaves the list and its history is NotFound. Re-running a completed id
    (orchestrator/create.go createIfCompleted) upserts the same key: Postgres keeps its row id,
    so its place, and the history is the new execution's only."""
    first, second, third = (run_steps(client) for _ in range(3))

    client.purge_workflow(second)
    ids = list_all(stub)
    assert second not in ids
    assert [i for i in ids if i in (first, third)] == [first, third]
    with pytest.raises(grpc.RpcError) as err:
        stub.GetInstanceHistory(pb.GetInstanceHistoryRequest(instanceId=second), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    run_steps(client, first)
    ids = list_all(stub)
    assert [i for i in ids if i in (first, third)] == [first, third]
    events = stub.GetInstanceHistory(pb.GetInstanceHistoryRequest(instanceId=first), timeout=10).events
    assert kinds(events).count("executionStarted") == 1


def test_a_malformed_continuation_token_is_an_error(
    client: wf.DaprWorkflowClient, stub: TaskHubSidecarServiceStub
) -> None:
    """state.postgresql v1 KeysLike parses the token as an int64 row id and returns a plain
    error, which durabletask-go's gRPC executor (`backend/executor.go`) sends as UNKNOWN."""
    with pytest.raises(grpc.RpcError) as err:
        stub.ListInstanceIDs(
            pb.ListInstanceIDsRequest(pageSize=2, continuationToken="not-a-token"), timeout=10
        )
    assert err.value.code() == grpc.StatusCode.UNKNOWN
    assert "invalid continue token" in (err.value.details() or "")
