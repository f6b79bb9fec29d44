"""The workflow engine of one app: instances, turns, and applying their actions.

Mirrors durabletask-go's backend (`backend/runtimestate/applier.go`) and
Dapr's workflow actor (`pkg/actors/targets/workflow/orchestrator`):

- New events wait in the instance's inbox. A *turn* hands the worker the
  history plus `[WorkflowStarted(now), *inbox]`; at most one turn per instance
  is outstanding, so turns of one instance never run concurrently.
- A turn's completion is applied in one transaction: its events and one
  confirming event per action (same `eventId` as the action) are appended to
  history, its inbox rows deleted, activities, timers and child instances
  created. Only then do the effects reach memory (work items, timers, waiters).
- Every non-terminal instance lives in memory (loaded at start); terminal ones
  are read from the database on demand.
- Under the app's `stateRetentionPolicy` an ended instance is purged once its TTL has
  passed since it ended (`orchestrator/run.go` handleRetention, `retentioner`): the due time
  is stored with the end, so it survives a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import grpc

from ..config import RetentionPolicy
from . import wire
from .dispatcher import Dispatcher, WorkItem
from .store import Store, Tx
from .timers import Timers
from .wire import TERMINAL, pb

log = logging.getLogger("localdapr.workflow")

RUNNING = pb.ORCHESTRATION_STATUS_RUNNING
PENDING = pb.ORCHESTRATION_STATUS_PENDING
SUSPENDED = pb.ORCHESTRATION_STATUS_SUSPENDED
STALLED = pb.ORCHESTRATION_STATUS_STALLED
TERMINATED = pb.ORCHESTRATION_STATUS_TERMINATED
COMPLETED = pb.ORCHESTRATION_STATUS_COMPLETED
CONTINUED_AS_NEW = pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
_TERMINAL = tuple(TERMINAL)

# durabletask-go api.ErrInstanceNotFound; the SDK's DaprWorkflowClient matches on this text.
NOT_FOUND = "no such instance exists"
# durabletask-go api.ErrNotCompleted.
NOT_COMPLETED = "orchestration has not yet completed"
# dapr messages.ErrActorRuntimeNotFound: reads on a sidecar without an actor state store.
NO_ACTOR_STORE = (
    "the state store is not configured to use the actor runtime. Have you set the - name: "
    'actorStateStore value: "true" in your state store component file?'
)


class WorkflowError(Exception):
    """An error for the caller: the gRPC status daprd would use, and the backend's bare error.

    `cause` is the durabletask/actor error itself (e.g. NOT_FOUND), before the gRPC executor's
    wording; the HTTP API wraps it in daprd's own messages instead.
    """

    def __init__(self, code: grpc.StatusCode, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.cause = cause if cause is not None else message

    @property
    def not_found(self) -> bool:
        """durabletask-go api.ErrInstanceNotFound."""
        return self.cause == NOT_FOUND


@dataclass(eq=False)
class Parent:
    app: str
    id: str
    task: int
    execution: str
    name: str = ""


@dataclass(eq=False)
class Inbox:
    row: int
    event: bytes
    is_start: bool


@dataclass(eq=False)
class Turn:
    events: list[Inbox]
    new_events: list[bytes]  # WorkflowStarted first
    item: WorkItem


@dataclass(eq=False)
class Instance:
    app_id: str
    instance_id: str
    name: str
    execution_id: str
    status: pb.OrchestrationStatus.ValueType
    started: bool
    created_at: float
    updated_at: float
    completed_at: float | None = None
    scheduled_at: float | None = None
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    failure: bytes | None = None
    parent: Parent | None = None
    history: bytes = b""
    inbox: list[Inbox] = field(default_factory=list)
    timers: dict[int, bytes] = field(default_factory=dict)  # row -> TimerFired (or delayed start) event
    activities: set[tuple[str, str, int]] = field(default_factory=set)
    turn: Turn | None = None
    # A terminate that waits for the turn in flight (output, recursive); in memory only: a
    # restart meanwhile drops it with the caller's call.
    pending_terminate: tuple[str | None, bool] | None = None

    @property
    def turn_in_flight(self) -> bool:
        """A worker holds a turn of this instance (handed out, not completed)."""
        return self.turn is not None and bool(self.turn.new_events)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def values(self) -> dict[str, Any]:
        p = self.parent
        return {
            "name": self.name,
            "execution_id": self.execution_id,
            "status": self.status,
            "started": int(self.started),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "completed_at": self.completed_at,
            "scheduled_at": self.scheduled_at,
            "input": self.input,
            "output": self.output,
            "custom_status": self.custom_status,
            "failure": self.failure,
            "parent_app": p.app if p else None,
            "parent_id": p.id if p else None,
            "parent_task": p.task if p else None,
            "parent_execution": p.execution if p else None,
            "history": self.history,
        }

    @classmethod
    def from_row(cls, app_id: str, row: Any) -> Instance:
        parent = None
        if row["parent_id"] is not None:
            parent = Parent(
                row["parent_app"], row["parent_id"], row["parent_task"], row["parent_execution"] or ""
            )
        return cls(
            app_id=app_id,
            instance_id=row["instance_id"],
            name=row["name"],
            execution_id=row["execution_id"],
            status=row["status"],
            started=bool(row["started"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            completed_at=row["completed_at"],
            scheduled_at=row["scheduled_at"],
            input=row["input"],
            output=row["output"],
            custom_status=row["custom_status"],
            failure=row["failure"],
            parent=parent,
            history=row["history"],
        )


def _bytes(ev: pb.HistoryEvent) -> bytes:
    return ev.SerializeToString()


class Engine:
    def __init__(self, app_id: str, store: Store, engines: dict[str, Engine]) -> None:
        self.app_id = app_id
        self.store = store
        self.engines = engines
        engines[app_id] = self
        self.dispatcher = Dispatcher(app_id)
        self.dispatcher.on_stream_open = self._on_worker
        self.timers: Timers[int] = Timers()
        self.retention: RetentionPolicy | None = None
        self.retention_timers: Timers[str] = Timers()
        self._purges_waiting: set[str] = set()  # retention purges due while no worker was connected
        self.instances: dict[str, Instance] = {}
        # Pending activities of this app's instances: (instance, execution, task id) -> work item.
        self.activities: dict[tuple[str, str, int], WorkItem] = {}
        # Activities handed to this app's workers, by what their completion names (instance id,
        # task id), with the engine and execution they belong to (another app's, for
        # call_activity(app_id=...)).
        self.routed: dict[tuple[str, int], tuple[Engine, str]] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self.ready = asyncio.Event()
        self.actor_store = True  # the app has a state store with actorStateStore: "true"

    # -- start / stop ----------------------------------------------------
    def load(self) -> None:
        """Rebuild memory from the database and re-dispatch everything pending."""
        inst: Instance | None
        for row in self.store.active_instances(self.app_id, _TERMINAL):
            inst = Instance.from_row(self.app_id, row)
            self.instances[inst.instance_id] = inst
        for row in self.store.inbox(self.app_id):
            inst = self.instances.get(row["instance_id"])
            if inst is not None:
                self._add_inbox(inst, row["id"], row["event"], row["fire_at"], None)
        for row in self.store.activities(self.app_id):
            inst = self.instances.get(row["instance_id"])
            if inst is not None and inst.execution_id == row["execution_id"]:
                self._queue_activity(inst, row["task_id"], row["request"], row["target_app"])
        for inst in list(self.instances.values()):
            self._schedule(inst)
        for row in self.store.retentions(self.app_id):
            self.retention_timers.arm(row["instance_id"], row["purge_at"], self._retention_due)
        log.info(
            "workflows of %s: %d active instance(s), %d pending activities",
            self.app_id,
            len(self.instances),
            len(self.activities),
        )
        self.ready.set()

    def close(self) -> None:
        self.timers.cancel_all()
        self.retention_timers.cancel_all()
        self.dispatcher.close()
        for waiters in self._waiters.values():
            for fut in waiters:
                fut.cancel()

    # -- what daprd's actor runtime allows ---------------------------------
    def check_actor_store(self) -> None:
        """Reads go to the actor state store; without one daprd fails them at once."""
        if not self.actor_store:
            raise WorkflowError(grpc.StatusCode.INTERNAL, NO_ACTOR_STORE)

    async def writable(self) -> None:
        """Wait until a write may proceed. daprd sends every write to a workflow actor, whose type
        it registers only while a worker stream is open (and never without an actor state
        store): until then its placement lookup waits, so the call blocks until a worker
        connects or the caller gives up (its gRPC deadline)."""
        if not self.actor_store:
            await asyncio.Event().wait()
        await self.dispatcher.connected.wait()

    # -- lookups and waiting ---------------------------------------------
    def get(self, instance_id: str) -> Instance | None:
        inst = self.instances.get(instance_id)
        if inst is not None:
            return inst
        row = self.store.load_instance(self.app_id, instance_id)
        return Instance.from_row(self.app_id, row) if row is not None else None

    async def wait(self, instance_id: str, condition: Any) -> Instance:
        """Long-poll until `condition(instance)` holds (woken by changes, never polling)."""
        loop = asyncio.get_running_loop()
        while True:
            inst = self.get(instance_id)
            if inst is None:
                raise WorkflowError(grpc.StatusCode.UNKNOWN, NOT_FOUND)
            if condition(inst):
                return inst
            fut: asyncio.Future[None] = loop.create_future()
            waiters = self._waiters.setdefault(instance_id, [])
            waiters.append(fut)
            try:
                await fut
            finally:
                if fut in waiters:
                    waiters.remove(fut)
                if not waiters and self._waiters.get(instance_id) is waiters:
                    del self._waiters[instance_id]

    def _notify(self, instance_id: str) -> None:
        for fut in self._waiters.get(instance_id, ()):
            if not fut.done():
                fut.set_result(None)

    # -- inbox and turns -------------------------------------------------
    def _add_inbox(
        self, inst: Instance, row: int, event: bytes, fire_at: float | None, is_start: bool | None
    ) -> None:
        if fire_at is not None and fire_at > time.time():
            inst.timers[row] = event

            def fire(r: int, i: Instance = inst) -> None:
                self._fire(i, r)

            self.timers.arm(row, fire_at, fire)
            return
        if is_start is None:
            is_start = pb.HistoryEvent.FromString(event).HasField("executionStarted")
        inst.inbox.append(Inbox(row, event, is_start))

    def _fire(self, inst: Instance, row: int) -> None:
        event = inst.timers.pop(row, None)
        if event is None or inst.terminal or self.instances.get(inst.instance_id) is not inst:
            return
        self._add_inbox(inst, row, event, None, None)
        self._schedule(inst)

    def _schedule(self, inst: Instance) -> None:
        """Dispatch a turn if the instance has new events and none is outstanding."""
        if inst.turn is not None or not inst.inbox or inst.status in (SUSPENDED, STALLED) or inst.terminal:
            return
        if self.instances.get(inst.instance_id) is not inst:
            return
        if not inst.started and not any(e.is_start for e in inst.inbox):
            return  # e.g. events raised before a delayed start: they wait for it
        events = sorted(inst.inbox, key=lambda e: not e.is_start)  # ExecutionStarted leads
        inst.inbox = []
        item = WorkItem(None, f"workflow {self.app_id}/{inst.instance_id}")
        turn = Turn(events, [], item)

        def render() -> bytes:
            # WorkflowStarted is the workflow's clock: stamp it when a worker gets the turn.
            started = _bytes(wire.event(workflowStarted=pb.WorkflowStartedEvent()))
            turn.new_events = [started, *(e.event for e in events)]
            return wire.workflow_work_item(inst.instance_id, inst.execution_id, inst.history, turn.new_events)

        item.render = render
        inst.turn = turn
        self.dispatcher.push(item)

    def _on_worker(self) -> None:
        """A new worker connected: retry instances stalled on a missing workflow version, and
        run the retention purges that came due without one (daprd registers the retentioner
        actor type, whose reminders the scheduler delivers, only while a worker is connected)."""
        waiting, self._purges_waiting = self._purges_waiting, set()
        for instance_id in waiting:
            self._retention_purge(instance_id)
        for inst in list(self.instances.values()):
            if inst.status == STALLED:
                inst.status = RUNNING if inst.started else PENDING
                self._schedule(inst)

    def deliver(self, tx: Tx, instance_id: str, event: bytes, fire_at: float | None = None) -> bool:
        """Put an event in an instance's inbox (dropped if the instance is gone or ended)."""
        inst = self.instances.get(instance_id)
        if inst is None or inst.terminal:
            return False
        row = self.store.add_inbox(tx, self.app_id, instance_id, event, fire_at)
        self._add_inbox(inst, row, event, fire_at, False)
        if fire_at is None and not inst.started:
            self._start_now(tx, inst)
        tx.after(lambda: self._schedule(inst))
        return True

    def _start_now(self, tx: Tx, inst: Instance) -> None:
        """An event for an instance whose start is scheduled later starts it now: daprd's
        workflow actor keeps ExecutionStarted in the inbox from creation, and any new event
        wakes it to run the whole inbox (orchestrator/add.go, create.go scheduleWorkflowStart)."""
        for row, event in list(inst.timers.items()):
            if pb.HistoryEvent.FromString(event).HasField("executionStarted"):
                self.store.clear_fire_at(tx, row)
                self.timers.cancel([row])
                del inst.timers[row]
                self._add_inbox(inst, row, event, None, True)

    # -- creating instances ----------------------------------------------
    def create(
        self,
        tx: Tx,
        instance_id: str,
        name: str,
        input: str | None,
        version: str | None = None,
        parent: Parent | None = None,
        scheduled_at: float | None = None,
        request: pb.CreateInstanceRequest | None = None,
    ) -> str | None:
        """Create (or recreate a terminal) instance; returns an error text if refused."""
        existing = self.get(instance_id)
        if existing is not None and not existing.terminal:
            p = existing.parent
            if (
                parent is not None
                and p is not None
                and (p.id, p.task, p.execution)
                == (
                    parent.id,
                    parent.task,
                    parent.execution,
                )
            ):
                return None  # the same creation again (replayed turn): nothing to do
            return f"an active workflow with ID '{instance_id}' already exists"
        if existing is not None:
            # dapr: an id is reusable only once its whole child tree is terminal.
            for child in self.store.children(self.app_id, instance_id):
                if child["status"] not in TERMINAL:
                    return (
                        f"cannot recreate workflow with ID '{instance_id}': child workflow "
                        f"'{child['instance_id']}' is not yet completed"
                    )
            self._forget(existing)
            self.store.clear_pending(tx, self.app_id, instance_id)
        now = time.time()
        execution_id = uuid.uuid4().hex
        started = pb.ExecutionStartedEvent(
            name=name,
            version=wire.sv(version),
            input=wire.sv(input),
            workflowInstance=pb.WorkflowInstance(instanceId=instance_id, executionId=wire.sv(execution_id)),
        )
        if parent is not None:
            started.parentInstance.CopyFrom(
                pb.ParentInstanceInfo(
                    taskScheduledId=parent.task,
                    name=wire.sv(parent.name),
                    workflowInstance=pb.WorkflowInstance(
                        instanceId=parent.id, executionId=wire.sv(parent.execution)
                    ),
                    appID=parent.app,
                )
            )
        if request is not None:
            if request.HasField("scheduledStartTimestamp"):
                started.scheduledStartTimestamp.CopyFrom(request.scheduledStartTimestamp)
            if request.HasField("parentTraceContext"):
                started.parentTraceContext.CopyFrom(request.parentTraceContext)
            for k, v in request.tags.items():
                started.tags[k] = v
        event = _bytes(
            pb.HistoryEvent(
                eventId=-1,
                timestamp=wire.ts(now),
                executionStarted=started,
                router=pb.TaskRouter(sourceAppID=self.app_id),
            )
        )
        inst = Instance(
            app_id=self.app_id,
            instance_id=instance_id,
            name=name,
            execution_id=execution_id,
            status=PENDING,
            started=False,
            created_at=now,
            updated_at=now,
            scheduled_at=scheduled_at,
            input=input,
            parent=parent,
        )
        self.store.put_instance(tx, self.app_id, instance_id, inst.values())
        self.instances[instance_id] = inst
        fire_at = scheduled_at if scheduled_at and scheduled_at > now else None
        row = self.store.add_inbox(tx, self.app_id, instance_id, event, fire_at)
        self._add_inbox(inst, row, event, fire_at, True)

        def wake() -> None:
            self._notify(instance_id)
            self._schedule(inst)

        tx.after(wake)
        return None

    # -- applying a turn -------------------------------------------------
    def complete_turn(self, resp: pb.WorkflowResponse) -> None:
        """The result of the instance's pending turn: durabletask-go matches it by instance id
        alone (its token is ignored), and drops one that finds no turn handed out. A terminate
        that waited for this turn is applied after it."""
        self._complete_turn(resp)
        inst = self.instances.get(resp.instanceId)
        if inst is not None and inst.pending_terminate is not None and not inst.turn_in_flight:
            output, recursive = inst.pending_terminate
            inst.pending_terminate = None
            if not inst.terminal:
                with self.store.tx() as tx:
                    self._terminate(tx, inst, output, recursive)

    def _complete_turn(self, resp: pb.WorkflowResponse) -> None:
        inst = self.instances.get(resp.instanceId)
        turn = inst.turn if inst is not None else None
        if inst is None or turn is None or not turn.new_events:
            log.debug("ignoring a workflow completion for %s: no turn of it is pending", resp.instanceId)
            return
        inst.turn = None
        turn.item.finish()
        if any(a.HasField("workflowVersionNotAvailable") for a in resp.actions):
            # Stalled (durabletask-go: ExecutionStalled): keep the turn's events for a later worker.
            inst.inbox[:0] = turn.events
            inst.status = STALLED
            self._notify(inst.instance_id)
            return

        first = pb.HistoryEvent.FromString(turn.new_events[0])
        if resp.HasField("version"):
            # durabletask-go records the worker's version/patches on the turn's WorkflowStarted.
            first.workflowStarted.version.CopyFrom(resp.version)
            self._compact_patches(inst, first.workflowStarted)
        frames = [wire.past(_bytes(first)), *(wire.past(e) for e in turn.new_events[1:])]
        if any(e.is_start for e in turn.events):
            inst.started = True
            if inst.status == PENDING:
                inst.status = RUNNING
        inst.custom_status = wire.opt(resp, "customStatus")
        with self.store.tx() as tx:
            self.store.delete_inbox(tx, [e.row for e in turn.events])
            continued = False
            for action in resp.actions:
                kind = action.WhichOneof("workflowActionType")
                if kind == "scheduleTask":
                    frames.append(self._schedule_task(tx, inst, action))
                elif kind == "createTimer":
                    frames.append(self._create_timer(tx, inst, action))
                elif kind == "createChildWorkflow":
                    frames.append(self._create_child(tx, inst, action))
                elif kind == "completeWorkflow":
                    done = action.completeWorkflow
                    if done.workflowStatus == CONTINUED_AS_NEW:
                        self._continue_as_new(tx, inst, done)
                        continued = True
                        break  # durabletask-go ignores any remaining actions
                    completed = pb.ExecutionCompletedEvent(workflowStatus=done.workflowStatus)
                    if done.HasField("result"):
                        completed.result.CopyFrom(done.result)
                    if done.HasField("failureDetails"):
                        completed.failureDetails.CopyFrom(done.failureDetails)
                    frames.append(
                        wire.past(_bytes(wire.event(eventId=action.id, executionCompleted=completed)))
                    )
                    failure = (
                        done.failureDetails.SerializeToString() if done.HasField("failureDetails") else None
                    )
                    inst.history += b"".join(frames)
                    frames = []
                    self._finish(tx, inst, done.workflowStatus, wire.opt(done, "result"), failure)
                elif kind == "terminateWorkflow":
                    t = action.terminateWorkflow
                    self._terminate_target(tx, t.instanceId, wire.opt(t, "reason"), t.recurse)
                elif kind == "sendEvent":
                    s = action.sendEvent
                    raised = pb.EventRaisedEvent(name=s.name)
                    if s.HasField("data"):
                        raised.input.CopyFrom(s.data)
                    self.deliver(tx, s.instance.instanceId, _bytes(wire.event(eventRaised=raised)))
                elif kind == "createDetachedWorkflow":
                    d = action.createDetachedWorkflow
                    err = self.create(tx, d.instanceId or uuid.uuid4().hex, d.name, wire.opt(d, "input"))
                    if err:
                        log.warning("%s: detached workflow not created: %s", inst.instance_id, err)
                else:
                    log.warning("%s: ignoring unknown workflow action %r", inst.instance_id, kind)
            if not continued:
                inst.history += b"".join(frames)
            inst.updated_at = time.time()
            self.store.update_instance(tx, self.app_id, inst.instance_id, inst.values())
            iid = inst.instance_id

            def wake() -> None:
                self._notify(iid)
                self._schedule(inst)

            tx.after(wake)

    @staticmethod
    def _compact_patches(inst: Instance, started: pb.WorkflowStartedEvent) -> None:
        """dapr orchestrator/versioning.go compactPatches: a turn's version keeps only the patches
        not recorded by an earlier turn (counted with repeats), and no name; none left: no version."""
        patches = list(started.version.patches)
        if not patches:
            return
        seen: dict[str, int] = {}
        for event in wire.parse_history(inst.history):
            if event.HasField("workflowStarted"):
                for patch in event.workflowStarted.version.patches:
                    seen[patch] = seen.get(patch, 0) + 1
        new = []
        for patch in patches:
            if seen.get(patch, 0) > 0:
                seen[patch] -= 1
            else:
                new.append(patch)
        started.ClearField("version")
        if new:
            started.version.patches.extend(new)

    def _schedule_task(self, tx: Tx, inst: Instance, action: pb.WorkflowAction) -> bytes:
        task = action.scheduleTask
        scheduled = pb.TaskScheduledEvent(name=task.name, taskExecutionId=task.taskExecutionId)
        request = pb.ActivityRequest(
            name=task.name,
            taskId=action.id,
            taskExecutionId=task.taskExecutionId,
            workflowInstance=pb.WorkflowInstance(
                instanceId=inst.instance_id, executionId=wire.sv(inst.execution_id)
            ),
        )
        for f in ("version", "input"):
            if task.HasField(f):
                getattr(scheduled, f).CopyFrom(getattr(task, f))
                getattr(request, f).CopyFrom(getattr(task, f))
        # call_activity(app_id=...) routes the activity to another app's workers.
        target = task.router.targetAppID if task.HasField("router") and task.router.targetAppID else None
        if target == self.app_id:
            target = None
        if target is not None and target not in self.engines:
            log.warning("%s: activity %s targets unknown app %r", inst.instance_id, task.name, target)
        raw = request.SerializeToString()
        self.store.add_activity(tx, self.app_id, inst.instance_id, inst.execution_id, action.id, raw, target)
        tx.after(lambda: self._queue_activity(inst, action.id, raw, target))
        return wire.past(_bytes(wire.event(eventId=action.id, taskScheduled=scheduled)))

    def _queue_activity(self, inst: Instance, task_id: int, request: bytes, target_app: str | None) -> None:
        if inst.terminal or self.instances.get(inst.instance_id) is not inst:
            return
        item = WorkItem(
            wire.activity_work_item(request), f"activity {self.app_id}/{inst.instance_id}#{task_id}"
        )
        key = (inst.instance_id, inst.execution_id, task_id)
        self.activities[key] = item
        inst.activities.add(key)
        engine = self.engines.get(target_app or self.app_id, self)
        engine.routed[(inst.instance_id, task_id)] = (self, inst.execution_id)
        engine.dispatcher.push(item)

    def _create_timer(self, tx: Tx, inst: Instance, action: pb.WorkflowAction) -> bytes:
        t = action.createTimer
        created = pb.TimerCreatedEvent(fireAt=t.fireAt)
        if t.HasField("name"):
            created.name = t.name
        origin = t.WhichOneof("origin")
        if origin:
            getattr(created, origin).CopyFrom(getattr(t, origin))
        fired = pb.HistoryEvent(
            eventId=-1, timestamp=t.fireAt, timerFired=pb.TimerFiredEvent(fireAt=t.fireAt, timerId=action.id)
        )
        self.deliver(tx, inst.instance_id, _bytes(fired), fire_at=wire.ts_seconds(t.fireAt))
        return wire.past(_bytes(wire.event(eventId=action.id, timerCreated=created)))

    def _create_child(self, tx: Tx, inst: Instance, action: pb.WorkflowAction) -> bytes:
        c = action.createChildWorkflow
        child_id = c.instanceId or f"{inst.instance_id}:{action.id:04x}"
        created = pb.ChildWorkflowInstanceCreatedEvent(instanceId=child_id, name=c.name)
        for f in ("version", "input"):
            if c.HasField(f):
                getattr(created, f).CopyFrom(getattr(c, f))
        target_app = c.router.targetAppID if c.HasField("router") and c.router.targetAppID else self.app_id
        engine = self.engines.get(target_app)
        parent = Parent(self.app_id, inst.instance_id, action.id, inst.execution_id, inst.name)
        error: str | None
        if engine is None:
            error = f"app '{target_app}' has no workflow engine here"
        else:
            error = engine.create(
                tx, child_id, c.name, wire.opt(c, "input"), wire.opt(c, "version"), parent=parent
            )
        if error:
            failed = pb.ChildWorkflowInstanceFailedEvent(
                taskScheduledId=action.id,
                failureDetails=pb.TaskFailureDetails(errorType="WorkflowCreationError", errorMessage=error),
            )
            self.deliver(tx, inst.instance_id, _bytes(wire.event(childWorkflowInstanceFailed=failed)))
        return wire.past(_bytes(wire.event(eventId=action.id, childWorkflowInstanceCreated=created)))

    def _continue_as_new(self, tx: Tx, inst: Instance, done: pb.CompleteWorkflowAction) -> None:
        """Restart the instance with a new execution; carried-over events follow its start."""
        self.store.delete_inbox(tx, list(inst.timers))
        self.timers.cancel(list(inst.timers))
        inst.timers.clear()
        self._drop_activities(inst)
        tx.conn.execute(
            "DELETE FROM wf_activities WHERE app_id=? AND instance_id=?", (self.app_id, inst.instance_id)
        )
        inst.execution_id = uuid.uuid4().hex
        inst.history = b""
        inst.started = False
        inst.status = RUNNING
        inst.input = wire.opt(done, "result")
        inst.output = None
        inst.failure = None
        started = pb.ExecutionStartedEvent(
            name=inst.name,
            input=done.result if done.HasField("result") else None,
            workflowInstance=pb.WorkflowInstance(
                instanceId=inst.instance_id, executionId=wire.sv(inst.execution_id)
            ),
        )
        p = inst.parent
        if p is not None:
            started.parentInstance.CopyFrom(
                pb.ParentInstanceInfo(
                    taskScheduledId=p.task,
                    name=wire.sv(p.name),
                    workflowInstance=pb.WorkflowInstance(instanceId=p.id, executionId=wire.sv(p.execution)),
                    appID=p.app,
                )
            )
        start = _bytes(wire.event(executionStarted=started, router=pb.TaskRouter(sourceAppID=self.app_id)))
        carried = [Inbox(self.store.add_inbox(tx, self.app_id, inst.instance_id, start, None), start, True)]
        for ev in done.carryoverEvents:
            raw = _bytes(ev)
            carried.append(
                Inbox(self.store.add_inbox(tx, self.app_id, inst.instance_id, raw, None), raw, False)
            )
        inst.inbox[:0] = carried

    def _finish(
        self,
        tx: Tx,
        inst: Instance,
        status: pb.OrchestrationStatus.ValueType,
        output: str | None,
        failure: bytes | None,
    ) -> None:
        """The instance reached a terminal status: drop what is pending, tell the parent."""
        inst.status = status
        inst.output = output
        inst.failure = failure
        inst.completed_at = inst.updated_at = time.time()
        self.store.clear_pending(tx, self.app_id, inst.instance_id)
        self._forget(inst)
        self._keep_until(tx, inst)
        p = inst.parent
        parent_engine = self.engines.get(p.app) if p else None
        if p is not None and parent_engine is not None:
            parent = parent_engine.instances.get(p.id)
            if parent is not None and parent.execution_id == p.execution:
                if status == COMPLETED:
                    ev = wire.event(
                        childWorkflowInstanceCompleted=pb.ChildWorkflowInstanceCompletedEvent(
                            taskScheduledId=p.task, result=wire.sv(output)
                        )
                    )
                else:
                    details = (
                        pb.TaskFailureDetails.FromString(failure)
                        if failure
                        else pb.TaskFailureDetails(
                            errorType="WorkflowTerminated",
                            errorMessage=f"child workflow '{inst.instance_id}' was terminated",
                        )
                    )
                    ev = wire.event(
                        childWorkflowInstanceFailed=pb.ChildWorkflowInstanceFailedEvent(
                            taskScheduledId=p.task, failureDetails=details
                        )
                    )
                parent_engine.deliver(tx, p.id, _bytes(ev))
        iid = inst.instance_id

        def evict() -> None:
            # Terminal instances are read from the database from now on.
            if self.instances.get(iid) is inst and inst.terminal:
                del self.instances[iid]

        tx.after(evict)

    # -- retention (stateRetentionPolicy) ---------------------------------
    def _keep_until(self, tx: Tx, inst: Instance) -> None:
        """Schedule the purge of an instance that just ended, if the policy has a TTL for its
        status; the due time counts from its end, as daprd anchors the reminder."""
        status = pb.OrchestrationStatus.Name(inst.status).removeprefix("ORCHESTRATION_STATUS_").lower()
        ttl = self.retention.ttl(status) if self.retention is not None else None
        if ttl is None or inst.completed_at is None:
            return
        iid, purge_at = inst.instance_id, inst.completed_at + ttl
        self.store.set_retention(tx, self.app_id, iid, purge_at)
        tx.after(lambda: self.retention_timers.arm(iid, purge_at, self._retention_due))

    def _retention_due(self, instance_id: str) -> None:
        if self.dispatcher.connected.is_set():
            self._retention_purge(instance_id)
        else:
            self._purges_waiting.add(instance_id)

    def _retention_purge(self, instance_id: str) -> None:
        """The retentioner's purge: this instance only (its children have their own); one that
        is running again (recreated since) is left alone, and the reminder dropped."""
        inst = self.get(instance_id)
        with self.store.tx() as tx:
            self.store.delete_retention(tx, self.app_id, instance_id)
            if inst is not None and inst.terminal:
                self._purge(tx, inst, recursive=False, force=False)
                log.info("workflow %s/%s purged under the retention policy", self.app_id, instance_id)

    def _forget(self, inst: Instance) -> None:
        """Drop an instance's in-memory pending work (its rows are handled by the caller)."""
        self.timers.cancel(list(inst.timers))
        inst.timers.clear()
        inst.inbox.clear()
        self._drop_activities(inst)
        if inst.turn is not None:
            inst.turn.item.finish()
            inst.turn = None

    def _drop_activities(self, inst: Instance) -> None:
        for key in inst.activities:
            item = self.activities.pop(key, None)
            if item is not None:
                item.finish()
            iid, execution_id, task_id = key
            for engine in self.engines.values():
                if engine.routed.get((iid, task_id)) == (self, execution_id):
                    del engine.routed[(iid, task_id)]
        inst.activities.clear()

    # -- activity results ------------------------------------------------
    def complete_activity(self, resp: pb.ActivityResponse) -> None:
        """An activity result from one of this app's workers, matched as durabletask-go's
        executor does by instance id and task id (no token); a second result finds nothing."""
        route = self.routed.pop((resp.instanceId, resp.taskId), None)
        if route is None:
            log.debug("ignoring a result of activity %s#%d: none is pending", resp.instanceId, resp.taskId)
            return
        owner, execution_id = route
        owner._activity_done(resp, execution_id, resp.taskId)

    def _activity_done(self, resp: pb.ActivityResponse, execution_id: str, task_id: int) -> None:
        key = (resp.instanceId, execution_id, task_id)
        item = self.activities.pop(key, None)
        if item is None:
            log.debug("ignoring duplicate or stale result of activity %s", key)
            return
        item.finish()
        inst = self.instances.get(resp.instanceId)
        if inst is not None:
            inst.activities.discard(key)
        if resp.HasField("failureDetails"):
            ev = wire.event(
                taskFailed=pb.TaskFailedEvent(taskScheduledId=task_id, failureDetails=resp.failureDetails)
            )
        else:
            completed = pb.TaskCompletedEvent(taskScheduledId=task_id)
            if resp.HasField("result"):
                completed.result.CopyFrom(resp.result)
            ev = wire.event(taskCompleted=completed)
        with self.store.tx() as tx:
            self.store.delete_activity(tx, self.app_id, resp.instanceId, execution_id, task_id)
            if inst is not None and inst.execution_id == execution_id:
                self.deliver(tx, resp.instanceId, _bytes(ev))

    # -- management API ------------------------------------------------------
    def start_instance(self, req: pb.CreateInstanceRequest) -> str:
        instance_id = req.instanceId or uuid.uuid4().hex
        scheduled_at = (
            wire.ts_seconds(req.scheduledStartTimestamp) if req.HasField("scheduledStartTimestamp") else None
        )
        with self.store.tx() as tx:
            error = self.create(
                tx,
                instance_id,
                req.name,
                wire.opt(req, "input"),
                wire.opt(req, "version"),
                None,
                scheduled_at,
                req,
            )
        if error:
            raise WorkflowError(grpc.StatusCode.ALREADY_EXISTS, error)
        return instance_id

    def raise_event(self, instance_id: str, name: str, input: Any) -> None:
        inst = self._require(instance_id)
        if inst.terminal:
            return  # dapr accepts it; a completed workflow never reads it
        raised = pb.EventRaisedEvent(name=name)
        if input is not None:
            raised.input.CopyFrom(input)
        with self.store.tx() as tx:
            self.deliver(tx, instance_id, _bytes(wire.event(eventRaised=raised)))

    def terminate(self, instance_id: str, output: str | None, recursive: bool) -> None:
        inst = self._require(instance_id)
        with self.store.tx() as tx:
            self._terminate(tx, inst, output, recursive)

    def _terminate_target(self, tx: Tx, instance_id: str, reason: str | None, recursive: bool) -> None:
        inst = self.instances.get(instance_id)
        if inst is not None:
            self._terminate(tx, inst, reason, recursive)

    def _terminate(self, tx: Tx, inst: Instance, output: str | None, recursive: bool) -> None:
        """Terminate in the backend, no worker round trip needed; but not under a turn a worker
        holds: daprd queues the terminate behind it (its workflow actor runs one turn at a time),
        and the late result of that turn must not land on a recreated instance of the same id,
        as completions are matched by instance id. Children the same, each on its own."""
        if inst.turn_in_flight and not inst.terminal:
            inst.pending_terminate = (output, recursive)
            return
        if not inst.terminal:
            terminated = wire.event(
                executionTerminated=pb.ExecutionTerminatedEvent(input=wire.sv(output), recurse=recursive)
            )
            completed = wire.event(
                executionCompleted=pb.ExecutionCompletedEvent(
                    workflowStatus=TERMINATED, result=wire.sv(output)
                )
            )
            inst.history += wire.past(_bytes(terminated)) + wire.past(_bytes(completed))
            self._finish(tx, inst, TERMINATED, output, None)
            self.store.update_instance(tx, self.app_id, inst.instance_id, inst.values())
            iid = inst.instance_id
            tx.after(lambda: self._notify(iid))
        if recursive:
            # dapr terminates the whole non-terminal child tree (dapr/dapr#... recursive terminate)
            for child in self.store.children(self.app_id, inst.instance_id):
                engine = self.engines.get(child["app_id"])
                target = engine.instances.get(child["instance_id"]) if engine else None
                if engine is not None and target is not None and not target.terminal:
                    engine._terminate(tx, target, output, True)

    def suspend(self, instance_id: str) -> None:
        inst = self._require(instance_id)
        if inst.status in (RUNNING, PENDING):
            self._set_status(inst, SUSPENDED)

    def resume(self, instance_id: str) -> None:
        inst = self._require(instance_id)
        if inst.status == SUSPENDED:
            self._set_status(inst, RUNNING if inst.started else PENDING)
            self._schedule(inst)

    def _set_status(self, inst: Instance, status: pb.OrchestrationStatus.ValueType) -> None:
        inst.status = status
        inst.updated_at = time.time()
        with self.store.tx() as tx:
            self.store.update_instance(
                tx, self.app_id, inst.instance_id, {"status": status, "updated_at": inst.updated_at}
            )
        self._notify(inst.instance_id)

    def purge(self, instance_id: str, recursive: bool, force: bool = False) -> int:
        inst = self.get(instance_id)
        if inst is None:
            raise WorkflowError(
                grpc.StatusCode.UNKNOWN, f"failed to purge workflow state: {NOT_FOUND}", NOT_FOUND
            )
        with self.store.tx() as tx:
            return self._purge(tx, inst, recursive, force)

    def _purge(self, tx: Tx, inst: Instance, recursive: bool, force: bool) -> int:
        """Delete an instance (and its children); only terminal ones unless forced."""
        if not inst.terminal and not force:
            raise WorkflowError(
                grpc.StatusCode.UNKNOWN, f"failed to purge workflow state: {NOT_COMPLETED}", NOT_COMPLETED
            )
        count = 0
        if recursive:
            for child in self.store.children(self.app_id, inst.instance_id):
                engine = self.engines.get(child["app_id"])
                target = engine.get(child["instance_id"]) if engine else None
                if engine is not None and target is not None:
                    count += engine._purge(tx, target, True, force)
        self.store.delete_instance(tx, self.app_id, inst.instance_id)
        self.retention_timers.cancel([inst.instance_id])
        if self.instances.get(inst.instance_id) is inst:
            self._forget(inst)
            del self.instances[inst.instance_id]
        iid = inst.instance_id
        tx.after(lambda: self._notify(iid))
        return count + 1

    # -- inspection (ListInstanceIDs, GetInstanceHistory) ---------------------
    def list_instance_ids(self, page_size: int, token: str) -> tuple[list[str], str | None]:
        """One page of this app's instance ids, oldest first, and the token of the next page.

        dapr's `wfengine/state/list` asks the actor state store for its `metadata` keys
        (`KeysLike`); state.postgresql v1 orders them by row id, skips rows up to the token's
        row id, reads `page_size + 1` rows (0: all) and returns a token (the last returned row id)
        only if there was one more row.
        """
        after = _parse_row_id(token) if token else None
        rows = self.store.list_instance_ids(self.app_id, after, page_size + 1 if page_size > 0 else None)
        if page_size > 0 and len(rows) > page_size:
            rows = rows[:page_size]
            return [r["instance_id"] for r in rows], str(rows[-1]["rowid"])
        return [r["instance_id"] for r in rows], None

    def history(self, instance_id: str) -> list[pb.HistoryEvent]:
        """The current execution's committed history (not the inbox), as daprd's
        `LoadWorkflowState` returns it; an unknown (or purged) instance is NOT_FOUND."""
        inst = self.get(instance_id)
        if inst is None:
            raise WorkflowError(grpc.StatusCode.NOT_FOUND, f"workflow instance '{instance_id}' not found")
        return wire.parse_history(inst.history)

    def _require(self, instance_id: str) -> Instance:
        inst = self.get(instance_id)
        if inst is None:
            raise WorkflowError(grpc.StatusCode.UNKNOWN, NOT_FOUND)
        return inst


_INT64 = 2**63


def _parse_row_id(token: str) -> int:
    """A continuation token as Go's `strconv.ParseInt(token, 10, 64)` reads it; a bad one is the
    plain error state.postgresql returns (the gRPC executor sends it as UNKNOWN)."""
    body = token[1:] if token[:1] in "+-" else token
    reason = None
    if not body or not body.isascii() or not body.isdigit():
        reason = "invalid syntax"
    elif not -_INT64 <= int(token) < _INT64:
        reason = "value out of range"
    if reason is not None:
        raise WorkflowError(
            grpc.StatusCode.UNKNOWN,
            f'invalid continue token: strconv.ParseInt: parsing "{token}": {reason}',
        )
    return int(token)
