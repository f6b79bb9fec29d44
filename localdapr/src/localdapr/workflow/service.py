"""`TaskHubSidecarService` (no proto package) on the sidecar's gRPC port.

Request/response behaviour follows durabletask-go's `backend/executor.go` as
daprd runs it: StartInstance waits for the instance to start (unless it has a
scheduled start), TerminateInstance waits for completion, Suspend/Resume wait
for the new status; GetInstance answers `exists=false` for an unknown id, the
other calls fail with "no such instance exists". ListInstanceIDs and GetInstanceHistory
follow dapr's actor backend (`pkg/runtime/wfengine/backends/actors/actors.go`), see engine.py.
Every write waits for a connected worker, reads need an actor state store (Engine.writable,
Engine.check_actor_store).

Handlers are registered by hand (not via the generated `add_..._to_server`)
so that `GetWorkItems` can write pre-serialized work items.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import empty_pb2
from google.protobuf.message import Message

from . import wire
from .engine import PENDING, RUNNING, SUSPENDED, Engine, Instance, WorkflowError
from .wire import TERMINAL, pb

SERVICE = "TaskHubSidecarService"


def workflow_state(inst: Instance, payloads: bool) -> pb.WorkflowState:
    state = pb.WorkflowState(
        instanceId=inst.instance_id,
        name=inst.name,
        workflowStatus=inst.status,
        createdTimestamp=wire.ts(inst.created_at),
        lastUpdatedTimestamp=wire.ts(inst.updated_at),
        executionId=wire.sv(inst.execution_id),
    )
    if inst.completed_at is not None:
        state.completedTimestamp.CopyFrom(wire.ts(inst.completed_at))
    if inst.scheduled_at is not None:
        state.scheduledStartTimestamp.CopyFrom(wire.ts(inst.scheduled_at))
    if inst.parent is not None:
        state.parentInstanceId.value = inst.parent.id
    if payloads:
        for name, value in (
            ("input", inst.input),
            ("output", inst.output),
            ("customStatus", inst.custom_status),
        ):
            if value is not None:
                getattr(state, name).value = value
        if inst.failure:
            state.failureDetails.ParseFromString(inst.failure)
    return state


class WorkflowService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def _ready(self) -> Engine:
        await self.engine.ready.wait()
        return self.engine

    async def Hello(self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    async def _writable(self) -> Engine:
        engine = await self._ready()
        await engine.writable()
        return engine

    async def _readable(self) -> Engine:
        engine = await self._ready()
        engine.check_actor_store()
        return engine

    async def StartInstance(self, req: pb.CreateInstanceRequest, context: Any) -> pb.CreateInstanceResponse:
        engine = await self._writable()
        instance_id = engine.start_instance(req)
        if not req.HasField("scheduledStartTimestamp"):
            await engine.wait(instance_id, lambda i: i.status != PENDING)
        return pb.CreateInstanceResponse(instanceId=instance_id)

    async def GetInstance(self, req: pb.GetInstanceRequest, context: Any) -> pb.GetInstanceResponse:
        engine = await self._readable()
        inst = engine.get(req.instanceId)
        if inst is None:
            return pb.GetInstanceResponse(exists=False)
        return pb.GetInstanceResponse(
            exists=True, workflowState=workflow_state(inst, req.getInputsAndOutputs)
        )

    async def WaitForInstanceStart(self, req: pb.GetInstanceRequest, context: Any) -> pb.GetInstanceResponse:
        engine = await self._readable()
        inst = await engine.wait(req.instanceId, lambda i: i.status != PENDING)
        return pb.GetInstanceResponse(
            exists=True, workflowState=workflow_state(inst, req.getInputsAndOutputs)
        )

    async def WaitForInstanceCompletion(
        self, req: pb.GetInstanceRequest, context: Any
    ) -> pb.GetInstanceResponse:
        engine = await self._readable()
        inst = await engine.wait(req.instanceId, lambda i: i.status in TERMINAL)
        return pb.GetInstanceResponse(
            exists=True, workflowState=workflow_state(inst, req.getInputsAndOutputs)
        )

    async def RaiseEvent(self, req: pb.RaiseEventRequest, context: Any) -> pb.RaiseEventResponse:
        engine = await self._writable()
        engine.raise_event(req.instanceId, req.name, req.input if req.HasField("input") else None)
        return pb.RaiseEventResponse()

    async def TerminateInstance(self, req: pb.TerminateRequest, context: Any) -> pb.TerminateResponse:
        engine = await self._writable()
        engine.terminate(req.instanceId, wire.opt(req, "output"), req.recursive)
        await engine.wait(req.instanceId, lambda i: i.status in TERMINAL)
        return pb.TerminateResponse()

    async def SuspendInstance(self, req: pb.SuspendRequest, context: Any) -> pb.SuspendResponse:
        engine = await self._writable()
        engine.suspend(req.instanceId)
        await engine.wait(req.instanceId, lambda i: i.status == SUSPENDED or i.status in TERMINAL)
        return pb.SuspendResponse()

    async def ResumeInstance(self, req: pb.ResumeRequest, context: Any) -> pb.ResumeResponse:
        engine = await self._writable()
        engine.resume(req.instanceId)
        await engine.wait(req.instanceId, lambda i: i.status in (RUNNING, PENDING) or i.status in TERMINAL)
        return pb.ResumeResponse()

    async def PurgeInstances(self, req: pb.PurgeInstancesRequest, context: Any) -> pb.PurgeInstancesResponse:
        engine = await self._writable()
        if req.HasField("purgeInstanceFilter"):
            raise WorkflowError(grpc.StatusCode.UNIMPLEMENTED, "multi-instance purge is not implemented")
        count = engine.purge(req.instanceId, req.recursive, req.HasField("force") and req.force)
        return pb.PurgeInstancesResponse(deletedInstanceCount=count)

    async def ListInstanceIDs(
        self, req: pb.ListInstanceIDsRequest, context: Any
    ) -> pb.ListInstanceIDsResponse:
        engine = await self._ready()
        if not engine.actor_store:  # dapr wfengine/state/list: the store lookup's own error
            raise WorkflowError(grpc.StatusCode.UNKNOWN, "no state store with actor support found")
        ids, token = engine.list_instance_ids(req.pageSize, req.continuationToken)
        return pb.ListInstanceIDsResponse(instanceIds=ids, continuationToken=token)

    async def GetInstanceHistory(
        self, req: pb.GetInstanceHistoryRequest, context: Any
    ) -> pb.GetInstanceHistoryResponse:
        engine = await self._readable()
        return pb.GetInstanceHistoryResponse(events=engine.history(req.instanceId))

    async def GetWorkItems(self, req: pb.GetWorkItemsRequest, context: grpc.aio.ServicerContext) -> None:
        engine = await self._ready()
        await engine.dispatcher.serve(context.write)

    async def CompleteActivityTask(self, res: pb.ActivityResponse, context: Any) -> pb.CompleteTaskResponse:
        engine = await self._ready()
        engine.complete_activity(res)
        return pb.CompleteTaskResponse()

    async def CompleteOrchestratorTask(
        self, res: pb.WorkflowResponse, context: Any
    ) -> pb.CompleteTaskResponse:
        engine = await self._ready()
        engine.complete_turn(res)
        return pb.CompleteTaskResponse()

    CompleteWorkflowTask = CompleteOrchestratorTask


def _guard(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Turn a WorkflowError into the gRPC status daprd would send."""

    async def handler(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(request, context)
        except WorkflowError as exc:
            await context.abort(exc.code, exc.message)

    return handler


def _serialize(message: Any) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


def add_service(engine: Engine) -> Callable[[grpc.aio.Server], None]:
    service = WorkflowService(engine)
    unary: dict[str, type[Message]] = {
        "Hello": empty_pb2.Empty,
        "StartInstance": pb.CreateInstanceRequest,
        "GetInstance": pb.GetInstanceRequest,
        "WaitForInstanceStart": pb.GetInstanceRequest,
        "WaitForInstanceCompletion": pb.GetInstanceRequest,
        "RaiseEvent": pb.RaiseEventRequest,
        "TerminateInstance": pb.TerminateRequest,
        "SuspendInstance": pb.SuspendRequest,
        "ResumeInstance": pb.ResumeRequest,
        "PurgeInstances": pb.PurgeInstancesRequest,
        "CompleteActivityTask": pb.ActivityResponse,
        "CompleteOrchestratorTask": pb.WorkflowResponse,
        "CompleteWorkflowTask": pb.WorkflowResponse,
        "ListInstanceIDs": pb.ListInstanceIDsRequest,
        "GetInstanceHistory": pb.GetInstanceHistoryRequest,
    }
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            _guard(getattr(service, name)),
            request_deserializer=cls.FromString,
            response_serializer=_serialize,
        )
        for name, cls in unary.items()
    }
    handlers["GetWorkItems"] = grpc.unary_stream_rpc_method_handler(
        _guard(service.GetWorkItems),
        request_deserializer=pb.GetWorkItemsRequest.FromString,
        response_serializer=_serialize,
    )

    def add(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))

    return add
