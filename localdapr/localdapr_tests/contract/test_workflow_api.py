"""Dapr Workflow through the real SDK (`WorkflowRuntime` + `DaprWorkflowClient`).

One in-process worker serves every workflow of this module; each test uses its
own workflow names and instance ids. The behaviours are those of Dapr's
workflow engine (dapr/dapr `pkg/runtime/wfengine`, durabletask-go
`backend/`) as the python SDK (`dapr-ext-workflow`) drives it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dapr.ext.workflow as wf
import grpc
import httpx
import pytest
from dapr.ext.workflow._durabletask.internal import protos as pb
from dapr.ext.workflow._durabletask.internal.orchestrator_service_pb2_grpc import TaskHubSidecarServiceStub

from .conftest import Sidecar, Target
from .runtimes import private_sidecars

runtime_registry: list[Any] = []  # filled by the decorators below, applied by the fixture
calls: Counter[str] = Counter()  # activity invocations, by key
gates: dict[str, threading.Event] = {}  # activities that block until the test opens them


def workflow(fn: Any) -> Any:
    runtime_registry.append(("workflow", fn))
    return fn


def activity(fn: Any) -> Any:
    runtime_registry.append(("activity", fn))
    return fn


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- activities ------------------------------------------------------------------


@activity
def wfapi_echo(ctx: Any, value: Any) -> Any:
    return value


@activity
def wfapi_add(ctx: Any, args: list[int]) -> int:
    return args[0] + args[1]


@activity
def wfapi_book(ctx: Any, args: list[str]) -> str:
    key, step = args
    calls[f"{key}:{step}"] += 1
    if step == "payment":
        raise ValueError("card declined")
    return f"{step}-booked"


@activity
def wfapi_cancel(ctx: Any, args: list[str]) -> str:
    key, step = args
    calls[f"{key}:cancel:{step}"] += 1
    return f"{step}-cancelled"


@activity
def wfapi_flaky(ctx: Any, args: list[Any]) -> str:
    """Fails until it has been called `fail_times` + 1 times for this key."""
    key, fail_times = args
    calls[key] += 1
    if calls[key] <= fail_times:
        raise RuntimeError(f"attempt {calls[key]} failed")
    return f"ok after {calls[key]}"


@activity
def wfapi_gate(ctx: Any, key: str) -> str:
    gates.setdefault(key, threading.Event()).wait(30)
    return key


# -- workflows ---------------------------------------------------------------------


@workflow
def wfapi_sequence(ctx: wf.DaprWorkflowContext, n: int):
    total = yield ctx.call_activity(wfapi_add, input=[n, 1])
    ctx.set_custom_status(f"after-first:{total}")
    total = yield ctx.call_activity(wfapi_add, input=[total, 10])
    yield ctx.create_timer(timedelta(milliseconds=100))
    total = yield ctx.call_activity(wfapi_add, input=[total, 100])
    return total


@workflow
def wfapi_saga(ctx: wf.DaprWorkflowContext, key: str):
    done: list[str] = []
    try:
        for step in ("stock", "courier", "payment"):
            yield ctx.call_activity(wfapi_book, input=[key, step])
            done.append(step)
    except Exception as exc:  # the SDK raises a TaskFailedError for the failed activity
        compensated = []
        for step in reversed(done):
            compensated.append((yield ctx.call_activity(wfapi_cancel, input=[key, step])))
        return {"status": "rejected", "reason": str(exc), "compensated": compensated}
    return {"status": "approved"}


@workflow
def wfapi_gate_then_wait(ctx: wf.DaprWorkflowContext, key: str):
    yield ctx.call_activity(wfapi_gate, input=key)  # held until the test has raised the event
    return (yield ctx.wait_for_external_event("Approval"))


@workflow
def wfapi_wait_event(ctx: wf.DaprWorkflowContext, name: str):
    yield ctx.call_activity(wfapi_echo, input="first")  # the event may arrive meanwhile
    value = yield ctx.wait_for_external_event(name)  # no timeout: the 9999-12-31 timer
    return value


@workflow
def wfapi_event_or_timeout(ctx: wf.DaprWorkflowContext, seconds: float):
    event = ctx.wait_for_external_event("approval")
    timeout = ctx.create_timer(timedelta(seconds=seconds))
    winner = yield wf.when_any([event, timeout])
    if winner == timeout:
        return "timed out"
    return f"approved: {event.get_result()}"


@workflow
def wfapi_retry(ctx: wf.DaprWorkflowContext, args: list[Any]):
    policy = wf.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=50),
        max_number_of_attempts=3,
        backoff_coefficient=1.0,
        max_retry_interval=timedelta(milliseconds=100),
    )
    return (yield ctx.call_activity(wfapi_flaky, input=args, retry_policy=policy))


@workflow
def wfapi_fan_out(ctx: wf.DaprWorkflowContext, n: int):
    results = yield wf.when_all([ctx.call_activity(wfapi_add, input=[i, i]) for i in range(n)])
    return sum(results)


@workflow
def wfapi_child(ctx: wf.DaprWorkflowContext, value: int):
    if value < 0:
        raise ValueError(f"negative: {value}")
    return (yield ctx.call_activity(wfapi_add, input=[value, 1000]))


@workflow
def wfapi_parent(ctx: wf.DaprWorkflowContext, value: int):
    ok = yield ctx.call_child_workflow(wfapi_child, input=value)
    try:
        yield ctx.call_child_workflow(wfapi_child, input=-value, instance_id=f"{ctx.instance_id}-bad")
    except Exception as exc:
        return {"ok": ok, "failed": str(exc)}
    return {"ok": ok}


@workflow
def wfapi_counter(ctx: wf.DaprWorkflowContext, state: dict[str, Any]):
    """Continue-as-new loop; each execution consumes one 'tick' event, keeping unread ones."""
    tick = yield ctx.wait_for_external_event("tick")
    state = {"n": state["n"] + 1, "ticks": [*state["ticks"], tick]}
    if state["n"] < 3:
        ctx.continue_as_new(state, save_events=True)
        return None
    return state


@workflow
def wfapi_gated(ctx: wf.DaprWorkflowContext, key: str):
    first = yield ctx.call_activity(wfapi_gate, input=key)
    second = yield ctx.call_activity(wfapi_echo, input="after")
    return [first, second]


@workflow
def wfapi_tree(ctx: wf.DaprWorkflowContext, depth: int):
    if depth > 0:
        yield ctx.call_child_workflow(wfapi_tree, input=depth - 1, instance_id=f"{ctx.instance_id}-c")
        return "children done"
    yield ctx.wait_for_external_event("never")
    return "leaf done"


@workflow
def wfapi_finite_tree(ctx: wf.DaprWorkflowContext, depth: int):
    if depth > 0:
        yield ctx.call_child_workflow(wfapi_finite_tree, input=depth - 1, instance_id=f"{ctx.instance_id}-c")
    return depth


# -- fixtures ----------------------------------------------------------------------


@contextmanager
def running_worker(target: Target) -> Iterator[wf.DaprWorkflowClient]:
    """A `WorkflowRuntime` serving every workflow and activity registered above (also by other
    modules through `workflow`/`activity`), and a client; both closed on exit."""
    runtime = wf.WorkflowRuntime(host="127.0.0.1", port=str(target.main.grpc_port))
    for kind, fn in runtime_registry:
        # The SDK marks a function as registered on the function itself and refuses it twice;
        # each module's runtime registers it afresh.
        for mark in ("_workflow_registered", "_activity_registered", "_dapr_alternate_name"):
            fn.__dict__.pop(mark, None)
        if kind == "workflow":
            runtime.register_workflow(fn, name=fn.__name__)
        else:
            runtime.register_activity(fn, name=fn.__name__)
    runtime.start()
    assert runtime.wait_for_worker_ready(timeout=20)
    if not engine_registers_worker(target.main, timeout=10):
        # daprd 1.18.2 (dapr/dapr#9070): the last module's worker left while a workflow
        # awaited a work item, and the engine never registers the next worker; new
        # workflows hang. Only a sidecar restart clears it, as the order app's
        # engine watch knows; the worker reconnects by itself.
        target.restart()
        assert engine_registers_worker(target.main, timeout=60), "no workflow engine after a restart"
    c = wf.DaprWorkflowClient(host="127.0.0.1", port=str(target.main.grpc_port))
    yield c
    for gate in gates.values():
        gate.set()
    c.close()
    runtime.shutdown()


def engine_registers_worker(sidecar: Sidecar, timeout: float) -> bool:
    """The sidecar's metadata lists the workflow actor type: its engine serves our worker."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            doc = httpx.get(f"{sidecar.http_url}/v1.0/metadata", timeout=5).json()
        except httpx.HTTPError:
            doc = {}  # restarting
        actors = (doc.get("actorRuntime") or {}).get("activeActors") or []
        if any(str(a.get("type", "")).endswith(".workflow") for a in actors):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


@pytest.fixture(scope="module")
def client(target: Target) -> Iterator[wf.DaprWorkflowClient]:
    with running_worker(target) as c:
        yield c


@pytest.fixture(scope="module")
def stub(target: Target) -> Iterator[TaskHubSidecarServiceStub]:
    with grpc.insecure_channel(target.main.grpc_address) as channel:
        yield TaskHubSidecarServiceStub(channel)


def wait_status(
    client: wf.DaprWorkflowClient, instance_id: str, status: wf.WorkflowStatus, timeout: float = 10
) -> wf.WorkflowState:
    """Poll until the instance shows `status` (for changes daprd makes after the call returns)."""
    deadline = time.monotonic() + timeout
    while True:
        state = client.get_workflow_state(instance_id)
        if state is not None and state.runtime_status == status:
            return state
        assert time.monotonic() < deadline, f"{instance_id}: {state and state.runtime_status}, not {status}"
        time.sleep(0.05)


def stays(
    client: wf.DaprWorkflowClient, instance_id: str, status: wf.WorkflowStatus, seconds: float = 1
) -> None:
    """The instance keeps `status` for `seconds` (polled: a long-poll cut by its deadline can end
    as CANCELLED instead of DEADLINE_EXCEEDED on daprd, which the SDK does not map to a timeout)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = client.get_workflow_state(instance_id)
        assert state is not None and state.runtime_status == status, state and state.runtime_status
        time.sleep(0.1)


def run(client: wf.DaprWorkflowClient, name: str, input: Any = None, timeout: int = 20) -> wf.WorkflowState:
    iid = client.schedule_new_workflow(name, input=input, instance_id=new_id(name))
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=timeout)
    assert state is not None
    return state


# -- tests -------------------------------------------------------------------------


def test_activities_timer_custom_status_and_payloads(client: wf.DaprWorkflowClient) -> None:
    """durabletask-go backend/executor.go GetInstance / WaitForInstanceCompletion: inputs,
    outputs and custom status only with getInputsAndOutputs; durable timers fire."""
    iid = client.schedule_new_workflow("wfapi_sequence", input=1, instance_id=new_id("seq"))
    started = client.wait_for_workflow_start(iid, timeout_in_seconds=10)
    assert started is not None and started.runtime_status.name in ("RUNNING", "COMPLETED")
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=20)
    assert state is not None
    assert state.runtime_status == wf.WorkflowStatus.COMPLETED
    assert state.serialized_input == "1"
    assert state.serialized_output == "112"
    assert state.serialized_custom_status == "after-first:2"
    assert state.name == "wfapi_sequence"
    bare = client.get_workflow_state(iid, fetch_payloads=False)
    assert bare is not None and bare.runtime_status == wf.WorkflowStatus.COMPLETED
    assert bare.serialized_input is None and bare.serialized_output is None
    assert bare.serialized_custom_status is None


def test_saga_compensates_completed_steps_in_reverse(client: wf.DaprWorkflowClient) -> None:
    """Dapr docs, workflow patterns "compensation": an activity failure surfaces in the
    workflow as an exception (TaskFailed event), which runs compensating activities."""
    key = new_id("saga")
    state = run(client, "wfapi_saga", key)
    assert state.runtime_status == wf.WorkflowStatus.COMPLETED
    result = state.serialized_output
    assert result is not None and '"rejected"' in result and "card declined" in result
    assert '"compensated": ["courier-cancelled", "stock-cancelled"]' in result
    assert calls[f"{key}:stock"] == calls[f"{key}:courier"] == calls[f"{key}:payment"] == 1
    assert calls[f"{key}:cancel:stock"] == calls[f"{key}:cancel:courier"] == 1


def test_event_raised_before_the_workflow_waits_is_buffered(client: wf.DaprWorkflowClient) -> None:
    """durabletask-go: RaiseEvent adds EventRaised to the inbox; the SDK buffers events nobody
    waits for yet, and event names are case-insensitive (worker.py casefold)."""
    iid = new_id("early")
    gates[iid] = threading.Event()
    client.schedule_new_workflow("wfapi_gate_then_wait", input=iid, instance_id=iid)
    client.raise_workflow_event(iid, "APPROVAL", data={"by": "ops"})
    gates[iid].set()  # only now does the workflow reach wait_for_external_event("Approval")
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
    assert state is not None and state.runtime_status == wf.WorkflowStatus.COMPLETED
    assert state.serialized_output == '{"by": "ops"}'


def test_waiting_without_timeout_stays_running_until_the_event(client: wf.DaprWorkflowClient) -> None:
    """python-sdk wait_for_external_event(timeout=None) schedules a 9999-12-31 timer: it is
    recorded but never fires, so the workflow keeps waiting."""
    iid = client.schedule_new_workflow("wfapi_wait_event", input="go", instance_id=new_id("nowait"))
    stays(client, iid, wf.WorkflowStatus.RUNNING)
    client.raise_workflow_event(iid, "go", data=7)
    done = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
    assert done is not None and done.serialized_output == "7"


def test_event_vs_timer_race_with_when_any(client: wf.DaprWorkflowClient) -> None:
    """Dapr docs "external system interaction": when_any over an event and a durable timer;
    whichever completes first wins."""
    waiting = client.schedule_new_workflow("wfapi_event_or_timeout", input=30, instance_id=new_id("race-ev"))
    client.raise_workflow_event(waiting, "approval", data="yes")
    state = client.wait_for_workflow_completion(waiting, timeout_in_seconds=10)
    assert state is not None and state.serialized_output == '"approved: yes"'

    state = run(client, "wfapi_event_or_timeout", 0.3)
    assert state.serialized_output == '"timed out"'


def test_retry_policy_exhausts_then_succeeds(client: wf.DaprWorkflowClient) -> None:
    """python-sdk RetryPolicy: retries are SDK-side, via timers (origin activityRetry);
    max_number_of_attempts counts all attempts."""
    ok_key, bad_key = new_id("retry-ok"), new_id("retry-bad")
    ok = run(client, "wfapi_retry", [ok_key, 2])
    assert ok.runtime_status == wf.WorkflowStatus.COMPLETED
    assert ok.serialized_output == '"ok after 3"'
    bad = run(client, "wfapi_retry", [bad_key, 5])
    assert bad.runtime_status == wf.WorkflowStatus.FAILED
    assert calls[bad_key] == 3
    assert bad.failure_details is not None and "attempt 3 failed" in bad.failure_details.message


def test_when_all_fan_out(client: wf.DaprWorkflowClient) -> None:
    """Dapr docs "fan-out/fan-in": when_all over parallel activities."""
    state = run(client, "wfapi_fan_out", 10)
    assert state.serialized_output == str(sum(2 * i for i in range(10)))


def test_child_workflow_result_and_failure_reach_the_parent(client: wf.DaprWorkflowClient) -> None:
    """durabletask-go runtimestate/applier.go: a child's completion is sent to the parent as
    ChildWorkflowInstanceCompleted/Failed with the parent's task id."""
    iid = new_id("parent")
    client.schedule_new_workflow("wfapi_parent", input=5, instance_id=iid)
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=20)
    assert state is not None and state.runtime_status == wf.WorkflowStatus.COMPLETED
    assert state.serialized_output is not None
    assert '"ok": 1005' in state.serialized_output and "negative: -5" in state.serialized_output
    first_child = client.get_workflow_state(f"{iid}:0001")  # default child id "{parent}:{task id:04x}"
    assert first_child is not None and first_child.runtime_status == wf.WorkflowStatus.COMPLETED
    bad_child = client.get_workflow_state(f"{iid}-bad")
    assert bad_child is not None and bad_child.runtime_status == wf.WorkflowStatus.FAILED


def test_continue_as_new_keeps_unprocessed_events(client: wf.DaprWorkflowClient) -> None:
    """durabletask-go applier.go ContinuedAsNew: a new execution starts with the new input,
    followed by the carried-over events (save_events=True)."""
    iid = client.schedule_new_workflow(
        "wfapi_counter", input={"n": 0, "ticks": []}, instance_id=new_id("can")
    )
    for i in range(1, 4):  # all three before the first execution reads one (data 0 would be dropped)
        client.raise_workflow_event(iid, "tick", data=i)
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=20)
    assert state is not None and state.runtime_status == wf.WorkflowStatus.COMPLETED
    assert state.serialized_output == '{"n": 3, "ticks": [1, 2, 3]}'
    assert state.serialized_input == '{"n": 2, "ticks": [1, 2]}'


def test_suspend_holds_the_workflow_until_resumed(client: wf.DaprWorkflowClient) -> None:
    """durabletask-go executor.go SuspendInstance/ResumeInstance: the status becomes
    SUSPENDED, no progress is made, and resuming continues where it stopped."""
    key = new_id("gate")
    gates[key] = threading.Event()
    iid = client.schedule_new_workflow("wfapi_gated", input=key, instance_id=key)
    client.pause_workflow(iid)
    state = client.get_workflow_state(iid)
    assert state is not None and state.runtime_status == wf.WorkflowStatus.SUSPENDED
    gates[key].set()  # the first activity finishes while suspended: the workflow must not move on
    stays(client, iid, wf.WorkflowStatus.SUSPENDED)
    client.resume_workflow(iid)
    done = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
    assert done is not None and done.runtime_status == wf.WorkflowStatus.COMPLETED
    assert done.serialized_output == f'["{key}", "after"]'


def test_terminate_is_recursive_to_children(client: wf.DaprWorkflowClient) -> None:
    """durabletask-go executor.go TerminateInstance (recursive by default in the python SDK)
    returns once the instance itself is TERMINATED, with the given output; its running children
    follow as each one processes the ExecutionTerminated its parent sent it (runtimestate/
    applier.go), so they may end TERMINATED a little later."""
    iid = client.schedule_new_workflow("wfapi_tree", input=2, instance_id=new_id("tree"))
    leaf = f"{iid}-c-c"
    for instance in (iid, f"{iid}-c", leaf):  # each one's first turn creates the next
        assert client.wait_for_workflow_start(instance, timeout_in_seconds=10) is not None
    client.terminate_workflow(iid, output="stop")
    state = client.get_workflow_state(iid)
    assert state is not None and state.runtime_status == wf.WorkflowStatus.TERMINATED
    assert state.serialized_output == '"stop"'
    for instance in (f"{iid}-c", leaf):
        wait_status(client, instance, wf.WorkflowStatus.TERMINATED)


def test_purge_is_recursive_and_only_for_terminal_instances(client: wf.DaprWorkflowClient) -> None:
    """durabletask-go purgeWorkflowState: purging a running instance fails; a terminal one
    is deleted with its children, after which it no longer exists."""
    running = client.schedule_new_workflow("wfapi_wait_event", input="x", instance_id=new_id("purge-run"))
    with pytest.raises(grpc.RpcError):
        client.purge_workflow(running)
    client.terminate_workflow(running)
    client.purge_workflow(running)
    assert client.get_workflow_state(running) is None

    iid = client.schedule_new_workflow("wfapi_finite_tree", input=2, instance_id=new_id("purge-tree"))
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
    assert state is not None and state.serialized_output == "2"
    assert client.get_workflow_state(f"{iid}-c-c") is not None
    client.purge_workflow(iid, recursive=True)
    for instance in (iid, f"{iid}-c", f"{iid}-c-c"):
        assert client.get_workflow_state(instance) is None, instance


def test_duplicate_start_of_an_active_instance_is_refused(client: wf.DaprWorkflowClient) -> None:
    """dapr/dapr orchestrator createIfCompleted: ALREADY_EXISTS "an active workflow with ID
    '...' already exists"; a terminal instance id may be reused."""
    iid = client.schedule_new_workflow("wfapi_wait_event", input="x", instance_id=new_id("dup"))
    with pytest.raises(grpc.RpcError) as err:
        client.schedule_new_workflow("wfapi_wait_event", input="x", instance_id=iid)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert f"an active workflow with ID '{iid}' already exists" in (err.value.details() or "")
    client.terminate_workflow(iid)
    client.schedule_new_workflow("wfapi_sequence", input=0, instance_id=iid)
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=20)
    assert state is not None and state.name == "wfapi_sequence" and state.serialized_output == "111"


def test_unknown_instance(client: wf.DaprWorkflowClient) -> None:
    """durabletask-go executor.go GetInstance answers exists=false (SDK: None); events for an
    unknown instance fail with "no such instance exists" (api.ErrInstanceNotFound)."""
    assert client.get_workflow_state(new_id("missing")) is None
    with pytest.raises(grpc.RpcError) as err:
        client.raise_workflow_event(new_id("missing"), "x", data=1)
    assert "no such instance exists" in (err.value.details() or "")


def test_scheduled_start_waits_until_its_time(client: wf.DaprWorkflowClient) -> None:
    """durabletask-go StartInstance with scheduledStartTimestamp: the instance exists as
    PENDING (StartInstance does not wait for it) and starts at that time (orchestrator/create.go
    scheduleWorkflowStart: a reminder at that time)."""
    start_at = datetime.now(UTC) + timedelta(seconds=1)
    iid = client.schedule_new_workflow(
        "wfapi_wait_event", input="later", instance_id=new_id("sched"), start_at=start_at
    )
    state = client.get_workflow_state(iid)
    assert state is not None and state.runtime_status == wf.WorkflowStatus.PENDING
    started = client.wait_for_workflow_start(iid, timeout_in_seconds=10)
    assert started is not None and datetime.now(UTC) >= start_at
    client.raise_workflow_event(iid, "later", data="on time")
    done = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
    assert done is not None and done.serialized_output == '"on time"'


def test_an_event_starts_a_scheduled_workflow_at_once(client: wf.DaprWorkflowClient) -> None:
    """daprd 1.18.2 contradicts the docs here (python-sdk DaprWorkflowClient.schedule_new_workflow:
    "start_at: The time when the workflow instance should start executing"). Its workflow actor
    keeps ExecutionStarted in the inbox from creation (orchestrator/create.go
    scheduleWorkflowStart), and any event added (orchestrator/add.go addWorkflowEvent) wakes it
    at once to run the whole inbox, the start included. Asserted as daprd does it, on both."""
    start_at = datetime.now(UTC) + timedelta(seconds=30)
    iid = client.schedule_new_workflow(
        "wfapi_wait_event", input="later", instance_id=new_id("sched-ev"), start_at=start_at
    )
    client.raise_workflow_event(iid, "later", data="early bird")
    done = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
    assert done is not None and done.serialized_output == '"early bird"'
    assert datetime.now(UTC) < start_at


def test_workflows_are_namespaced_per_app_id(
    client: wf.DaprWorkflowClient, target: Target, stub: TaskHubSidecarServiceStub
) -> None:
    """dapr/dapr backends/actors: the workflow actor type embeds the app id
    (`dapr.internal.{namespace}.{appID}.workflow`), so another app's sidecar, although its own
    actor state store is the same Postgres table, does not see this app's instances."""
    iid = client.schedule_new_workflow("wfapi_wait_event", input="x", instance_id=new_id("ns"))
    peer = wf.DaprWorkflowClient(host="127.0.0.1", port=str(target.peer.grpc_port))
    try:
        assert peer.get_workflow_state(iid) is None
    finally:
        peer.close()
    with grpc.insecure_channel(target.peer.grpc_address) as channel:
        ids = TaskHubSidecarServiceStub(channel).ListInstanceIDs(pb.ListInstanceIDsRequest(), timeout=10)
    assert iid not in ids.instanceIds
    assert iid in stub.ListInstanceIDs(pb.ListInstanceIDsRequest(), timeout=10).instanceIds
    client.terminate_workflow(iid)


AT_THE_DEADLINE = (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED)


def test_writes_wait_for_a_connected_worker(target: Target) -> None:
    """daprd registers the workflow actor types only while a GetWorkItems stream is open
    (executor.go executeOnWorkItemConnection): a write to an app with no worker (here the peer)
    waits in the actor placement lookup until one connects, so it ends at the caller's deadline;
    reads are served from the state store meanwhile. daprd holds the same deadline, and now and
    then its reset of the stream (CANCELLED) reaches the client before the client's own timer
    fires (DEADLINE_EXCEEDED): both mean the write waited until the deadline and did nothing."""
    with grpc.insecure_channel(target.peer.grpc_address) as channel:
        peer = TaskHubSidecarServiceStub(channel)
        start = pb.CreateInstanceRequest(instanceId=new_id("nowk"), name="wfapi_echo")
        with pytest.raises(grpc.RpcError) as err:
            peer.StartInstance(start, timeout=1.5)
        assert err.value.code() in AT_THE_DEADLINE
        with pytest.raises(grpc.RpcError) as err:
            peer.RaiseEvent(pb.RaiseEventRequest(instanceId=start.instanceId, name="e"), timeout=1.5)
        assert err.value.code() in AT_THE_DEADLINE
        assert not peer.GetInstance(pb.GetInstanceRequest(instanceId=start.instanceId), timeout=5).exists


def test_a_sidecar_without_an_actor_state_store_runs_no_workflows(runtime: str, tmp_path: Path) -> None:
    """Workflow state lives in the actor state store (a state component with `actorStateStore:
    "true"`). Without one, daprd answers reads with messages.ErrActorRuntimeNotFound (INTERNAL),
    ListInstanceIDs with wfengine/state/list's own error (UNKNOWN), and a write never gets
    through (the actor is never placed): it ends at the caller's deadline."""
    with (
        private_sidecars(runtime, tmp_path, [{"app_id": "no-actors"}]) as sidecars,
        grpc.insecure_channel(sidecars["no-actors"].grpc_address) as channel,
    ):
        stub = TaskHubSidecarServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.GetInstance(pb.GetInstanceRequest(instanceId="x"), timeout=5)
        assert err.value.code() == grpc.StatusCode.INTERNAL
        assert err.value.details() == (
            "the state store is not configured to use the actor runtime. Have you set the - name: "
            'actorStateStore value: "true" in your state store component file?'
        )
        with pytest.raises(grpc.RpcError) as err:
            stub.ListInstanceIDs(pb.ListInstanceIDsRequest(), timeout=5)
        assert err.value.code() == grpc.StatusCode.UNKNOWN
        assert err.value.details() == "no state store with actor support found"
        with pytest.raises(grpc.RpcError) as err:
            stub.StartInstance(pb.CreateInstanceRequest(instanceId="x", name="w"), timeout=1.5)
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


async def test_async_client(client: wf.DaprWorkflowClient, target: Target) -> None:
    """python-sdk dapr.ext.workflow.aio.DaprWorkflowClient: the same RPCs over grpc.aio, as
    an async app (FastAPI) would call them."""
    from dapr.ext.workflow.aio import DaprWorkflowClient as AsyncClient

    aclient = AsyncClient(host="127.0.0.1", port=str(target.main.grpc_port))
    iid = await aclient.schedule_new_workflow("wfapi_wait_event", input="async", instance_id=new_id("aio"))
    await aclient.raise_workflow_event(iid, "async", data={"n": 1})
    state = await aclient.wait_for_workflow_completion(iid, timeout_in_seconds=10)
    assert state is not None and state.serialized_output == '{"n": 1}'
    assert await aclient.get_workflow_state(new_id("aio-missing")) is None
    await aclient.purge_workflow(iid)
    assert await aclient.get_workflow_state(iid) is None
