"""The worker side of the workflow protocol, driven with the SDK's own stubs.

These tests play the worker by hand (`TaskHubSidecarServiceStub` from
dapr-ext-workflow) to pin down what the real worker relies on: the shape of
work items, re-dispatch after a stream dies, how completions are matched (by
instance id and task id: daprd sends no completion token), and the version copied
into WorkflowStarted (durabletask-go `backend/executor.go`, `backend/local/task.go`,
`backend/runtimestate/applier.go`).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import dapr.ext.workflow as wf
import grpc
import pytest
from dapr.ext.workflow._durabletask.internal import protos as pb
from dapr.ext.workflow._durabletask.internal.orchestrator_service_pb2_grpc import TaskHubSidecarServiceStub
from google.protobuf import wrappers_pb2

from .conftest import Target


class RawWorker:
    """One GetWorkItems stream on its own channel."""

    def __init__(self, target: Target) -> None:
        self.channel = grpc.insecure_channel(target.main.grpc_address)
        self.stub = TaskHubSidecarServiceStub(self.channel)
        self.stub.Hello(pb.empty_pb2.Empty())
        self.stream = self.stub.GetWorkItems(pb.GetWorkItemsRequest(), timeout=30)

    def next(self, instance_id: str) -> pb.WorkItem:
        """The next work item of `instance_id`. Those of other instances are left unanswered: on
        daprd an earlier module's HTTP terminate may still be queued when this stream opens
        (its worker has gone), and the shared queue hands it to whoever connects."""
        while True:
            item: pb.WorkItem = next(self.stream)
            assert item.WhichOneof("request") in ("workflowRequest", "activityRequest"), item
            assert item.completionToken == ""  # executor.go never sets one
            owner = item.workflowRequest.instanceId or item.activityRequest.workflowInstance.instanceId
            if owner == instance_id:
                return item

    def close(self) -> None:
        self.stream.cancel()
        self.channel.close()


@pytest.fixture
def raw(target: Target) -> Iterator[list[RawWorker]]:
    opened: list[RawWorker] = []
    yield opened
    for w in opened:
        w.close()


def open_worker(target: Target, opened: list[RawWorker]) -> RawWorker:
    w = RawWorker(target)
    opened.append(w)
    return w


def start_in_background(target: Target, name: str, iid: str) -> threading.Thread:
    """StartInstance waits for the first turn (durabletask-go StartInstance waits for start)."""
    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(target.main.grpc_port))
    t = threading.Thread(
        target=client.schedule_new_workflow, args=(name,), kwargs={"instance_id": iid, "input": 1}
    )
    t.start()
    return t


def kinds(events: Any) -> list[str]:
    return [e.WhichOneof("eventType") for e in events]


def test_work_items_redispatch_and_completions_by_instance(target: Target, raw: list[RawWorker]) -> None:
    """durabletask-go executor.go: a turn owned by a stream that dies is handed to the next
    stream; local/task.go matches a workflow completion to the instance's pending turn and an
    activity result to (instance id, task id), so a second result of one activity, or a
    completion once nothing is pending, is dropped (and still answered OK: actors.go
    callWithBackoff ignores an unknown task); each action is confirmed by a history event
    with its id."""
    iid = f"raw-{uuid.uuid4().hex[:10]}"
    first = open_worker(target, raw)
    starter = start_in_background(target, "raw_flow", iid)

    turn1 = first.next(iid).workflowRequest
    assert turn1.instanceId == iid
    assert list(turn1.pastEvents) == []
    assert kinds(turn1.newEvents) == ["workflowStarted", "executionStarted"]
    assert turn1.newEvents[0].timestamp.seconds > 0  # the workflow's clock
    assert turn1.newEvents[1].executionStarted.name == "raw_flow"
    assert turn1.newEvents[1].executionStarted.input.value == "1"

    first.close()  # dies without completing: the same turn goes to the next stream
    second = open_worker(target, raw)
    again = second.next(iid)
    assert again.workflowRequest.instanceId == iid
    assert kinds(again.workflowRequest.newEvents) == ["workflowStarted", "executionStarted"]

    schedule = pb.WorkflowAction(
        id=1, scheduleTask=pb.ScheduleTaskAction(name="raw_step", input=wrappers_pb2.StringValue(value="2"))
    )
    version = pb.WorkflowVersion(name="v2", patches=["fix-1"])
    second.stub.CompleteOrchestratorTask(
        pb.WorkflowResponse(instanceId=iid, actions=[schedule], version=version)
    )
    starter.join(10)
    assert not starter.is_alive()

    activity = second.next(iid)
    assert activity.activityRequest.name == "raw_step" and activity.activityRequest.taskId == 1
    assert activity.activityRequest.input.value == "2"
    assert activity.activityRequest.workflowInstance.instanceId == iid
    result = pb.ActivityResponse(instanceId=iid, taskId=1, result=wrappers_pb2.StringValue(value="3"))
    second.stub.CompleteActivityTask(result)
    second.stub.CompleteActivityTask(result)  # at-least-once: a duplicate result is ignored

    turn2 = second.next(iid)
    request = turn2.workflowRequest
    assert kinds(request.pastEvents) == ["workflowStarted", "executionStarted", "taskScheduled"]
    # Copied from the response, then compacted (dapr orchestrator/versioning.go compactPatches):
    # only patches no earlier turn recorded, and no name.
    assert request.pastEvents[0].workflowStarted.version == pb.WorkflowVersion(patches=["fix-1"])
    assert request.pastEvents[2].eventId == 1 and request.pastEvents[2].taskScheduled.name == "raw_step"
    assert kinds(request.newEvents) == ["workflowStarted", "taskCompleted"]
    assert request.newEvents[1].taskCompleted.taskScheduledId == 1
    assert request.newEvents[1].taskCompleted.result.value == "3"

    def done(result: str) -> pb.WorkflowResponse:
        action = pb.WorkflowAction(
            id=2,
            completeWorkflow=pb.CompleteWorkflowAction(
                workflowStatus=pb.ORCHESTRATION_STATUS_COMPLETED,
                result=wrappers_pb2.StringValue(value=result),
            ),
        )
        return pb.WorkflowResponse(
            instanceId=iid,
            actions=[action],
            customStatus=wrappers_pb2.StringValue(value="finished"),
            version=pb.WorkflowVersion(name="v2", patches=["fix-1", "fix-2"]),
        )

    second.stub.CompleteOrchestratorTask(done('"done"'))
    final = second.stub.WaitForInstanceCompletion(
        pb.GetInstanceRequest(instanceId=iid, getInputsAndOutputs=True), timeout=10
    )
    assert final.exists
    assert final.workflowState.workflowStatus == pb.ORCHESTRATION_STATUS_COMPLETED
    assert final.workflowState.output.value == '"done"'
    assert final.workflowState.customStatus.value == "finished"

    history = second.stub.GetInstanceHistory(pb.GetInstanceHistoryRequest(instanceId=iid), timeout=10).events
    versions = [e.workflowStarted.version for e in history if e.HasField("workflowStarted")]
    assert versions == [pb.WorkflowVersion(patches=["fix-1"]), pb.WorkflowVersion(patches=["fix-2"])]

    second.stub.CompleteOrchestratorTask(done('"late"'))  # no turn pending: dropped
    state = second.stub.GetInstance(pb.GetInstanceRequest(instanceId=iid, getInputsAndOutputs=True))
    assert state.workflowState.output.value == '"done"'


def test_timer_fires_as_timer_fired_with_its_id(target: Target, raw: list[RawWorker]) -> None:
    """durabletask-go applier.go CreateTimer: TimerCreated (origin copied) goes to history
    with the action's id, and TimerFired{timerId} arrives once fireAt has passed."""
    iid = f"raw-timer-{uuid.uuid4().hex[:10]}"
    w = open_worker(target, raw)
    starter = start_in_background(target, "raw_timer", iid)
    item = w.next(iid)
    now = item.workflowRequest.newEvents[0].timestamp
    fire_at = pb.timestamp_pb2.Timestamp(seconds=now.seconds, nanos=now.nanos)
    fire_at.FromNanoseconds(fire_at.ToNanoseconds() + 200_000_000)
    never = pb.timestamp_pb2.Timestamp()
    never.FromJsonString("9999-12-31T23:59:59.999999Z")
    actions = [
        pb.WorkflowAction(
            id=1, createTimer=pb.CreateTimerAction(fireAt=fire_at, createTimer=pb.TimerOriginCreateTimer())
        ),
        pb.WorkflowAction(
            id=2,
            createTimer=pb.CreateTimerAction(
                fireAt=never, externalEvent=pb.TimerOriginExternalEvent(name="x")
            ),
        ),
    ]
    w.stub.CompleteOrchestratorTask(pb.WorkflowResponse(instanceId=iid, actions=actions))
    starter.join(10)
    request = w.next(iid).workflowRequest
    assert kinds(request.pastEvents)[-2:] == ["timerCreated", "timerCreated"]
    assert request.pastEvents[-2].eventId == 1 and request.pastEvents[-2].timerCreated.HasField("createTimer")
    assert request.pastEvents[-1].timerCreated.externalEvent.name == "x"
    assert kinds(request.newEvents) == ["workflowStarted", "timerFired"]  # only the 200 ms timer
    assert request.newEvents[1].timerFired.timerId == 1
    assert request.newEvents[0].timestamp.ToNanoseconds() >= fire_at.ToNanoseconds()
    # Ended by the worker: daprd would queue a terminate behind this turn (see localdapr/README.md).
    done = pb.WorkflowAction(
        id=3, completeWorkflow=pb.CompleteWorkflowAction(workflowStatus=pb.ORCHESTRATION_STATUS_COMPLETED)
    )
    w.stub.CompleteOrchestratorTask(pb.WorkflowResponse(instanceId=iid, actions=[done]))
    final = w.stub.WaitForInstanceCompletion(pb.GetInstanceRequest(instanceId=iid), timeout=10)
    assert final.workflowState.workflowStatus == pb.ORCHESTRATION_STATUS_COMPLETED
