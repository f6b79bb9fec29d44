"""The HTTP workflow API (`/v1.0/workflows/...`), as daprd serves it, on the same Engine as gRPC.

Mirrors dapr/dapr:
- `pkg/api/http/workflow.go`: the routes (also under v1.0-alpha1 and v1.0-beta1); start answers
  202 `{"instanceID": ...}`, get 200, the other calls 202 with the JSON of an empty message, `{}`;
  the request body is the workflow input / event data as-is; an unknown instance on get is 404.
- `pkg/api/universal/workflow.go`: a missing `instanceID` becomes a random UUID; a new id may
  hold letters, digits, `-` and `_`, at most 64 bytes; every engine error is wrapped in the
  operation's own code (500), except an unknown instance on terminate and purge (404).
- `pkg/runtime/wfengine/client.go`: its wording of the engine errors, the `runtimeStatus`
  names, and the `properties` of get.
- `pkg/messages/predefined.go`: codes and messages.

- `pkg/api/http/universal.go`: a non-empty body of get, terminate, pause, resume and purge is
  read as the protojson of the call's request message (unknown fields ignored); one that does
  not parse is 400 ERR_MALFORMED_REQUEST. Start and raiseEvent take the body as-is.
- durabletask-go `backend/client.go`: terminate, pause and resume only queue their event, so
  they answer before the instance has acted on it (localdapr applies them at once anyway).

daprd ignores the `{component}` segment since 1.15 (the workflow engine is built in and its
ERR_WORKFLOW_COMPONENT_NOT_FOUND is never returned, see dapr/dapr#9830), so any name works.
Writes wait for a connected worker, as over gRPC (see the package docstring).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web
from dapr.proto.runtime.v1 import workflow_pb2
from google.protobuf import empty_pb2, json_format
from google.protobuf.message import Message

from . import wire
from .engine import NO_ACTOR_STORE, Engine, Instance, WorkflowError
from .wire import pb

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

VERSIONS = ("v1.0", "v1.0-beta1", "v1.0-alpha1")
MAX_INSTANCE_ID_BYTES = 64
# A Go proto string cannot carry such a body either; the wording is localdapr's.
NOT_UTF8 = "request body is not valid UTF-8"

# wfengine/client.go statusMap; any other status (e.g. STALLED) is "UNKNOWN" there.
STATUS_NAMES = {
    pb.ORCHESTRATION_STATUS_RUNNING: "RUNNING",
    pb.ORCHESTRATION_STATUS_COMPLETED: "COMPLETED",
    pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW: "CONTINUED_AS_NEW",
    pb.ORCHESTRATION_STATUS_FAILED: "FAILED",
    pb.ORCHESTRATION_STATUS_CANCELED: "CANCELED",
    pb.ORCHESTRATION_STATUS_TERMINATED: "TERMINATED",
    pb.ORCHESTRATION_STATUS_PENDING: "PENDING",
    pb.ORCHESTRATION_STATUS_SUSPENDED: "SUSPENDED",
}


class HttpError(Exception):
    """A daprd `messages.APIError`: HTTP status, `errorCode`, `message`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> web.Response:
        return json_response({"errorCode": self.code, "message": self.message}, self.status)


def instance_not_found(instance_id: str, engine_error: str | None = None) -> HttpError:
    """ERR_INSTANCE_ID_NOT_FOUND. Terminate and purge pass the engine error as a second argument
    to a one-verb format string, so Go prints it as a `%!(EXTRA ...)` suffix."""
    message = f"unable to find workflow with the provided instance ID: {instance_id}"
    if engine_error is not None:
        message += f"%!(EXTRA *fmt.wrapError={engine_error})"
    return HttpError(404, "ERR_INSTANCE_ID_NOT_FOUND", message)


def check_new_instance_id(instance_id: str) -> None:
    """universal validateInstanceID(isCreate=true); Go measures the length in bytes."""
    if len(instance_id.encode()) > MAX_INSTANCE_ID_BYTES:
        raise HttpError(
            400,
            "ERR_INSTANCE_ID_TOO_LONG",
            f"workflow instance ID exceeds the max length of {MAX_INSTANCE_ID_BYTES} characters",
        )
    if not all(c.isalpha() or c.isdecimal() or c in "-_" for c in instance_id):
        raise HttpError(
            400,
            "ERR_INSTANCE_ID_INVALID",
            f"workflow instance ID '{instance_id}' is invalid: "
            "only alphanumeric and underscore characters are allowed",
        )


def workflow_response(inst: Instance) -> workflow_pb2.GetWorkflowResponse:
    """GetWorkflowResponse as wfengine/client.go Get fills it from the instance's metadata."""
    props: dict[str, str] = {}
    if inst.custom_status is not None:
        props["dapr.workflow.custom_status"] = inst.custom_status
    if inst.input is not None:
        props["dapr.workflow.input"] = inst.input
    if inst.output is not None:
        props["dapr.workflow.output"] = inst.output
    if inst.failure:
        failure = pb.TaskFailureDetails.FromString(inst.failure)
        props["dapr.workflow.failure.error_type"] = failure.errorType
        props["dapr.workflow.failure.error_message"] = failure.errorMessage
    res = workflow_pb2.GetWorkflowResponse(
        instance_id=inst.instance_id,
        workflow_name=inst.name,
        runtime_status=STATUS_NAMES.get(inst.status, "UNKNOWN"),
        properties=props,
    )
    res.created_at.CopyFrom(wire.ts(inst.created_at))
    res.last_updated_at.CopyFrom(wire.ts(inst.updated_at))
    return res


def json_response(value: object, status: int) -> web.Response:
    """Compact JSON as Go writes it, `Content-Type: application/json` without a charset."""
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(body=body, status=status, content_type="application/json")


def proto_response(message: Message, status: int) -> web.Response:
    """daprd respondWithProto: protojson, camelCase names, unset fields left out."""
    return json_response(json_format.MessageToDict(message), status)


def accepted() -> web.Response:
    return proto_response(empty_pb2.Empty(), 202)


async def parse_body(request: web.Request, message: Message) -> None:
    """universal.go: protojson, unknown fields discarded. The cause after daprd's prefix is Go's
    protojson wording for a body that is not a JSON object, Python protobuf's otherwise."""
    raw = await request.read()
    if not raw:
        return
    cause = None
    try:
        value = json.loads(raw)
    except ValueError as err:
        cause = f"proto: syntax error: {err}"
    else:
        if not isinstance(value, dict):  # Python's parser would take `[]` as an empty message
            token = raw.decode(errors="replace").strip()
            cause = (
                f"proto: syntax error (line 1:1): unexpected token {'[' if token.startswith('[') else token}"
            )
        else:
            try:
                json_format.ParseDict(value, message, ignore_unknown_fields=True)
            except json_format.ParseError as err:
                cause = str(err)
    if cause is not None:
        raise HttpError(400, "ERR_MALFORMED_REQUEST", f"failed deserializing HTTP body: {cause}")


class ClientGone(Exception):
    """The caller hung up while its write waited for a worker."""


async def body_text(request: web.Request) -> str | None:
    """The body as the engine stores it (a string), None if it is not UTF-8. An empty body is
    an empty string, not "no input": daprd passes it on as-is (the SDK then reads None)."""
    raw = await request.read()
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


class WorkflowHttp:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def routes(self) -> list[web.RouteDef]:
        routes: list[web.RouteDef] = []
        for version in VERSIONS:
            # `[^/]+`: daprd's router takes any character but `/` in a segment.
            base = f"/{version}/workflows/{{component:[^/]+}}"
            instance = f"{base}/{{instance:[^/]+}}"
            routes += [
                web.post(f"{base}/{{name:[^/]+}}/start", self._wrap(self.start)),
                web.get(instance, self._wrap(self.get)),
                web.post(f"{instance}/raiseEvent/{{event:[^/]+}}", self._wrap(self.raise_event)),
                web.post(f"{instance}/terminate", self._wrap(self.terminate)),
                web.post(f"{instance}/pause", self._wrap(self.pause)),
                web.post(f"{instance}/resume", self._wrap(self.resume)),
                web.post(f"{instance}/purge", self._wrap(self.purge)),
            ]
        return routes

    def _wrap(self, handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            await self.engine.ready.wait()
            try:
                return await handler(request)
            except HttpError as err:
                return err.response()
            except ClientGone:
                return web.Response(status=499)  # nobody reads it: daprd drops the call too

        return run

    async def _writable(self, request: web.Request) -> None:
        """Engine.writable, given up when the client disconnects (daprd's request context ends)."""
        wait = asyncio.ensure_future(self.engine.writable())
        try:
            while not wait.done():
                await asyncio.wait({wait}, timeout=1.0)
                if not wait.done() and (request.transport is None or request.transport.is_closing()):
                    raise ClientGone
        finally:
            wait.cancel()

    async def start(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        instance_id = request.query.get("instanceID") or str(uuid.uuid4())
        check_new_instance_id(instance_id)
        text = await body_text(request)
        await self._writable(request)
        cause = NOT_UTF8
        if text is not None:
            req = pb.CreateInstanceRequest(instanceId=instance_id, name=name, input=wire.sv(text))
            try:
                self.engine.start_instance(req)
                return proto_response(workflow_pb2.StartWorkflowResponse(instance_id=instance_id), 202)
            except WorkflowError as err:
                cause = err.cause
        raise HttpError(
            500,
            "ERR_START_WORKFLOW",
            f"error starting workflow '{name}': unable to start workflow: "
            f"failed to start orchestration: {cause}",
        )

    async def get(self, request: web.Request) -> web.StreamResponse:
        await parse_body(request, workflow_pb2.GetWorkflowRequest())
        instance_id = request.match_info["instance"]
        if not self.engine.actor_store:
            raise HttpError(
                500,
                "ERR_GET_WORKFLOW",
                f"error while getting workflow info on instance '{instance_id}': failed to get workflow "
                f"metadata for '{instance_id}': failed to fetch workflow metadata: api error: code = "
                f"Internal desc = {NO_ACTOR_STORE}",
            )
        inst = self.engine.get(instance_id)
        if inst is None:
            raise instance_not_found(instance_id)
        return proto_response(workflow_response(inst), 200)

    async def raise_event(self, request: web.Request) -> web.StreamResponse:
        instance_id, event = request.match_info["instance"], request.match_info["event"]
        text = await body_text(request)
        await self._writable(request)
        cause = NOT_UTF8
        if text is not None:
            try:
                self.engine.raise_event(instance_id, event, wire.sv(text))
                return accepted()
            except WorkflowError as err:
                cause = err.cause
        raise HttpError(
            500,
            "ERR_RAISE_EVENT_WORKFLOW",
            f"error raising event on workflow '{instance_id}': failed to raise event {event} "
            f"on workflow {instance_id}: failed to raise event: {cause}",
        )

    async def terminate(self, request: web.Request) -> web.StreamResponse:
        """Always recursive and without output: daprd's HTTP route reads no options."""
        await parse_body(request, workflow_pb2.TerminateWorkflowRequest())
        instance_id = request.match_info["instance"]
        await self._writable(request)
        try:
            self.engine.terminate(instance_id, None, True)
        except WorkflowError as err:
            error = f"failed to submit termination request:: {err.cause}"  # sic, durabletask-go
            if err.not_found:
                raise instance_not_found(instance_id, error) from None
            raise HttpError(
                500,
                "ERR_TERMINATE_WORKFLOW",
                f"error terminating workflow '{instance_id}': "
                f"failed to terminate workflow {instance_id}: {error}",
            ) from None
        return accepted()

    async def pause(self, request: web.Request) -> web.StreamResponse:
        verbs = ("pausing", "pause", "suspend")
        await parse_body(request, workflow_pb2.PauseWorkflowRequest())
        await self._writable(request)
        return self._suspend_or_resume(request, self.engine.suspend, "ERR_PAUSE_WORKFLOW", verbs)

    async def resume(self, request: web.Request) -> web.StreamResponse:
        """`?reason=` is accepted and ignored, as daprd's route reads no options."""
        verbs = ("resuming", "resume", "resume")
        await parse_body(request, workflow_pb2.ResumeWorkflowRequest())
        await self._writable(request)
        return self._suspend_or_resume(request, self.engine.resume, "ERR_RESUME_WORKFLOW", verbs)

    def _suspend_or_resume(
        self, request: web.Request, apply: Callable[[str], None], code: str, verbs: tuple[str, str, str]
    ) -> web.StreamResponse:
        """`verbs`: daprd's wording of the call, of the workflow step and of the engine's."""
        doing, do, engine_verb = verbs
        instance_id = request.match_info["instance"]
        try:
            apply(instance_id)
        except WorkflowError as err:
            raise HttpError(
                500,
                code,
                f"error {doing} workflow {instance_id}: failed to {do} workflow {instance_id}: "
                f"failed to {engine_verb} orchestration: {err.cause}",
            ) from None
        return accepted()

    async def purge(self, request: web.Request) -> web.StreamResponse:
        """Recursive, terminal instances only (no force over HTTP)."""
        await parse_body(request, workflow_pb2.PurgeWorkflowRequest())
        instance_id = request.match_info["instance"]
        await self._writable(request)
        try:
            self.engine.purge(instance_id, True)
        except WorkflowError as err:
            error = f"failed to purge orchestration state: {err.cause}"
            if err.not_found:
                raise instance_not_found(instance_id, error) from None
            raise HttpError(
                500,
                "ERR_PURGE_WORKFLOW",
                f"error purging workflow {instance_id}: failed to Purge workflow {instance_id}: {error}",
            ) from None
        return accepted()
