"""The HTTP workflow API (`/v1.0/workflows/...`), called with httpx, run by a real SDK worker.

The worker is test_workflow_api.py's `WorkflowRuntime` (`running_worker`, with the workflows
below added to its registry). Mirrors dapr/dapr `pkg/api/http/workflow.go` (routes,
202/200), `pkg/api/universal/workflow.go` (validation, error wrapping), `pkg/runtime/wfengine/
client.go` (get's `runtimeStatus` and `properties`) and `pkg/messages/predefined.go` (codes).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dapr.ext.workflow as wf
import httpx
import pytest

from .conftest import Target
from .test_workflow_api import gates, new_id, running_worker, stays, workflow

NOT_FOUND = "ERR_INSTANCE_ID_NOT_FOUND"


@workflow
def wfhttp_describe_input(ctx: wf.DaprWorkflowContext, value: Any) -> dict[str, Any]:
    """Reports what the Python worker decoded from the HTTP body."""
    return {"value": value, "type": type(value).__name__}


@workflow
def wfhttp_wait(ctx: wf.DaprWorkflowContext, label: str):
    ctx.set_custom_status(f"waiting:{label}")
    value = yield ctx.wait_for_external_event("go")
    ctx.set_custom_status("done")
    return {"value": value, "type": type(value).__name__}


@workflow
def wfhttp_fail(ctx: wf.DaprWorkflowContext, message: str) -> None:
    raise ValueError(message)


@pytest.fixture(scope="module")
def client(target: Target) -> Iterator[wf.DaprWorkflowClient]:
    """test_workflow_api's SDK worker, which also serves the workflows above."""
    with running_worker(target) as c:
        yield c


@pytest.fixture
def http(target: Target, client: wf.DaprWorkflowClient) -> Iterator[httpx.Client]:
    """An HTTP client on the main sidecar; `client` keeps the SDK worker running."""
    with httpx.Client(base_url=f"{target.main.http_url}/v1.0/workflows", timeout=15) as c:
        yield c


def start(http: httpx.Client, name: str, body: bytes | str = b"", instance_id: str | None = None) -> str:
    params = {"instanceID": instance_id} if instance_id else {}
    resp = http.post(f"/dapr/{name}/start", params=params, content=body)
    assert resp.status_code == 202, resp.text
    iid = resp.json()["instanceID"]
    assert resp.json() == {"instanceID": iid}
    return str(iid)


def get(http: httpx.Client, instance_id: str) -> dict[str, Any]:
    resp = http.get(f"/dapr/{instance_id}")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def assert_accepted(resp: httpx.Response) -> None:
    """daprd answers 202 with the protojson of google.protobuf.Empty, `{}` (the docs say "no
    content")."""
    assert resp.status_code == 202, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.content == b"{}"


def assert_error(resp: httpx.Response, status: int, code: str, message_start: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["errorCode"] == code
    assert body["message"].startswith(message_start), body["message"]


def wait_done(c: wf.DaprWorkflowClient, instance_id: str) -> wf.WorkflowState:
    state = c.wait_for_workflow_completion(instance_id, timeout_in_seconds=20)
    assert state is not None
    return state


def wait_status(http: httpx.Client, instance_id: str, status: str, timeout: float = 10) -> dict[str, Any]:
    """Poll get until `runtimeStatus` is `status`: terminate, pause and resume only queue their
    event (durabletask-go backend/client.go), the instance acts on it a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        body = get(http, instance_id)
        if body["runtimeStatus"] == status:
            return body
        assert time.monotonic() < deadline, f"{instance_id}: {body['runtimeStatus']}, not {status}"
        time.sleep(0.05)


def timestamp(value: str) -> datetime:
    """protojson Timestamp: RFC 3339 in UTC with a `Z`."""
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value[:-1][:26] + "+00:00")


# -- start ---------------------------------------------------------------------------


def test_start_passes_the_body_as_is_and_the_worker_reads_it_as_json(
    http: httpx.Client,
    client: wf.DaprWorkflowClient,
) -> None:
    """onStartWorkflowHandler: the body is the input, uninterpreted (stored byte-exact, shown
    as such by get); the Python worker json-decodes it into a dict."""
    body = '{"a": 1,  "list":[1,2]}'
    iid = start(http, "wfhttp_describe_input", body, new_id("h-start"))
    state = wait_done(client, iid)
    assert state.runtime_status == wf.WorkflowStatus.COMPLETED
    assert state.serialized_input == body
    assert state.serialized_output == '{"value": {"a": 1, "list": [1, 2]}, "type": "dict"}'
    props = get(http, iid)["properties"]
    assert props["dapr.workflow.input"] == body


def test_start_without_instance_id_and_body(http: httpx.Client, client: wf.DaprWorkflowClient) -> None:
    """universal StartWorkflow: no `instanceID` gives a random UUID. An empty body is stored as
    an empty string input (daprd wraps the body unconditionally), which the worker reads as None."""
    iid = start(http, "wfhttp_describe_input")
    assert str(uuid.UUID(iid)) == iid
    state = wait_done(client, iid)
    assert state.serialized_output == '{"value": null, "type": "NoneType"}'
    assert get(http, iid)["properties"]["dapr.workflow.input"] == ""


def test_duplicate_start_of_an_active_instance_is_a_500(
    http: httpx.Client, client: wf.DaprWorkflowClient
) -> None:
    """The engine's refusal (orchestrator createIfCompleted) wrapped as ERR_START_WORKFLOW, 500
    (gRPC says ALREADY_EXISTS; HTTP has no 409 here). A terminal id can be started again."""
    iid = start(http, "wfhttp_wait", '"dup"', new_id("h-dup"))
    resp = http.post("/dapr/wfhttp_wait/start", params={"instanceID": iid}, content=b'"again"')
    assert_error(resp, 500, "ERR_START_WORKFLOW", "error starting workflow 'wfhttp_wait': ")
    assert f"an active workflow with ID '{iid}' already exists" in resp.json()["message"]
    assert_accepted(http.post(f"/dapr/{iid}/terminate"))
    wait_status(http, iid, "TERMINATED")
    assert start(http, "wfhttp_describe_input", "7", iid) == iid
    assert wait_done(client, iid).serialized_output == '{"value": 7, "type": "int"}'


@pytest.mark.parametrize(
    ("instance_id", "code", "message"),
    [
        (
            "x" * 65,
            "ERR_INSTANCE_ID_TOO_LONG",
            "workflow instance ID exceeds the max length of 64 characters",
        ),
        (
            "bad.id",
            "ERR_INSTANCE_ID_INVALID",
            "workflow instance ID 'bad.id' is invalid: "
            "only alphanumeric and underscore characters are allowed",
        ),
    ],
)
def test_start_validates_the_instance_id(
    http: httpx.Client, instance_id: str, code: str, message: str
) -> None:
    """universal validateInstanceID(isCreate): letters, digits, `-`, `_`, at most 64 bytes; 400."""
    resp = http.post("/dapr/wfhttp_wait/start", params={"instanceID": instance_id})
    assert resp.status_code == 400
    assert resp.json() == {"errorCode": code, "message": message}


# -- get -------------------------------------------------------------------------------


def test_get_a_running_then_completed_instance(http: httpx.Client, client: wf.DaprWorkflowClient) -> None:
    """wfengine/client.go Get: status names without the ORCHESTRATION_STATUS_ prefix; input,
    output and custom status as `dapr.workflow.*` properties, each only once it exists."""
    iid = start(http, "wfhttp_wait", '"get"', new_id("h-get"))
    assert client.wait_for_workflow_start(iid, timeout_in_seconds=10) is not None
    running = get(http, iid)
    assert running["instanceID"] == iid
    assert running["workflowName"] == "wfhttp_wait"
    assert running["runtimeStatus"] == "RUNNING"
    assert running["properties"] == {
        "dapr.workflow.input": '"get"',
        "dapr.workflow.custom_status": "waiting:get",  # the SDK sends it unencoded
    }
    created = timestamp(running["createdAt"])
    assert timestamp(running["lastUpdatedAt"]) >= created

    assert_accepted(http.post(f"/dapr/{iid}/raiseEvent/go", content=b"5"))
    wait_done(client, iid)
    done = get(http, iid)
    assert done["runtimeStatus"] == "COMPLETED"
    assert done["properties"] == {
        "dapr.workflow.input": '"get"',
        "dapr.workflow.output": '{"value": 5, "type": "int"}',
        "dapr.workflow.custom_status": "done",
    }
    assert timestamp(done["createdAt"]) == created
    assert timestamp(done["lastUpdatedAt"]) >= timestamp(running["lastUpdatedAt"])


def test_get_a_failed_instance_shows_the_failure(http: httpx.Client, client: wf.DaprWorkflowClient) -> None:
    """wfengine/client.go Get: `dapr.workflow.failure.error_type` / `.error_message`."""
    iid = start(http, "wfhttp_fail", '"boom"', new_id("h-fail"))
    assert wait_done(client, iid).runtime_status == wf.WorkflowStatus.FAILED
    body = get(http, iid)
    assert body["runtimeStatus"] == "FAILED"
    assert body["properties"]["dapr.workflow.failure.error_type"] == "ValueError"
    assert body["properties"]["dapr.workflow.failure.error_message"] == "boom"
    assert "dapr.workflow.output" not in body["properties"]


def test_get_an_unknown_instance_is_404(http: httpx.Client) -> None:
    """onGetWorkflowHandler: no properties means not found, 404 ERR_INSTANCE_ID_NOT_FOUND."""
    iid = new_id("h-missing")
    resp = http.get(f"/dapr/{iid}")
    assert resp.status_code == 404
    assert resp.json() == {
        "errorCode": NOT_FOUND,
        "message": f"unable to find workflow with the provided instance ID: {iid}",
    }


# -- events, pause/resume, terminate, purge ------------------------------------------------


def test_raise_event_body_is_the_event_data(http: httpx.Client, client: wf.DaprWorkflowClient) -> None:
    """onRaiseEventWorkflowHandler: 202; the body reaches wait_for_external_event json-decoded."""
    iid = start(http, "wfhttp_wait", '"event"', new_id("h-event"))
    assert client.wait_for_workflow_start(iid, timeout_in_seconds=10) is not None
    assert_accepted(http.post(f"/dapr/{iid}/raiseEvent/go", content=b'{"ok": true}'))
    state = wait_done(client, iid)
    assert state.serialized_output == '{"value": {"ok": true}, "type": "dict"}'
    # Raising to a completed instance is accepted and dropped, as over gRPC.
    assert_accepted(http.post(f"/dapr/{iid}/raiseEvent/go", content=b"1"))


def test_pause_holds_the_instance_until_resume(http: httpx.Client, client: wf.DaprWorkflowClient) -> None:
    """PauseWorkflow/ResumeWorkflow: 202 each, once the event is queued; SUSPENDED makes no
    progress; `?reason=` is ignored."""
    key = new_id("h-gate")
    gates[key] = threading.Event()
    iid = start(http, "wfapi_gated", f'"{key}"', key)
    assert client.wait_for_workflow_start(iid, timeout_in_seconds=10) is not None
    assert_accepted(http.post(f"/dapr/{iid}/pause"))
    wait_status(http, iid, "SUSPENDED")
    gates[key].set()
    stays(client, iid, wf.WorkflowStatus.SUSPENDED)
    assert_accepted(http.post(f"/dapr/{iid}/resume", params={"reason": "go on"}))
    assert wait_done(client, iid).serialized_output == f'["{key}", "after"]'


def test_terminate_is_recursive_and_purge_needs_a_terminal_instance(
    http: httpx.Client,
    client: wf.DaprWorkflowClient,
) -> None:
    """TerminateWorkflow/PurgeWorkflow are recursive over HTTP (Recursive=true, no options read);
    terminate answers once the event is queued; purging a running instance is 500
    ERR_PURGE_WORKFLOW (api.ErrNotCompleted)."""
    iid = start(http, "wfapi_tree", "1", new_id("h-tree"))
    child = f"{iid}-c"
    for instance in (iid, child):  # the parent's first turn creates the child
        assert client.wait_for_workflow_start(instance, timeout_in_seconds=10) is not None
    resp = http.post(f"/dapr/{iid}/purge")
    assert_error(resp, 500, "ERR_PURGE_WORKFLOW", f"error purging workflow {iid}: ")
    assert "orchestration has not yet completed" in resp.json()["message"]

    assert_accepted(http.post(f"/dapr/{iid}/terminate"))
    for instance in (iid, child):
        body = wait_status(http, instance, "TERMINATED")
        assert "dapr.workflow.output" not in body["properties"]  # HTTP terminate carries no output
    assert_accepted(http.post(f"/dapr/{iid}/terminate"))  # terminating again is accepted

    # daprd 1.18.2 reads the instance's metadata, then its inbox keys, outside the transaction
    # in which the actor drains the second terminate from its inbox: a purge in between fails
    # once with "inbox key ... missing from state store". Seen once in a full run; asked again.
    deadline = time.monotonic() + 10
    while (resp := http.post(f"/dapr/{iid}/purge")).status_code == 500 and time.monotonic() < deadline:
        assert "missing from state store" in resp.text, resp.text
        time.sleep(0.2)
    assert_accepted(resp)
    for instance in (iid, child):
        assert http.get(f"/dapr/{instance}").status_code == 404, instance


@pytest.mark.parametrize(
    ("path", "status", "code", "message"),
    [
        # Terminate and purge test for api.ErrInstanceNotFound: 404 (the wrapped engine error
        # follows as a Go `%!(EXTRA ...)` artefact, so only the start is compared).
        ("terminate", 404, NOT_FOUND, "unable to find workflow with the provided instance ID: {iid}"),
        ("purge", 404, NOT_FOUND, "unable to find workflow with the provided instance ID: {iid}"),
        # The others wrap every engine error in their own 500.
        ("raiseEvent/go", 500, "ERR_RAISE_EVENT_WORKFLOW", "error raising event on workflow '{iid}': "),
        ("pause", 500, "ERR_PAUSE_WORKFLOW", "error pausing workflow {iid}: "),
        ("resume", 500, "ERR_RESUME_WORKFLOW", "error resuming workflow {iid}: "),
    ],
)
def test_operations_on_an_unknown_instance(
    http: httpx.Client, path: str, status: int, code: str, message: str
) -> None:
    """universal workflow.go: only terminate and purge map a missing instance to 404."""
    iid = new_id("h-unknown")
    assert_error(http.post(f"/dapr/{iid}/{path}"), status, code, message.format(iid=iid))


@pytest.mark.parametrize("path", ["terminate", "purge", "pause", "resume", ""])
def test_a_body_that_is_not_the_request_message_is_400(http: httpx.Client, path: str) -> None:
    """universal.go UniversalHTTPHandler: get, terminate, pause, resume and purge read a
    non-empty body as the protojson of their request message (unknown fields are ignored);
    one that does not parse is 400 ERR_MALFORMED_REQUEST, before the instance is looked up.
    The parser's own words follow the prefix (Go's protojson on daprd, Python's on localdapr)."""
    iid = new_id("h-body")
    verb = "GET" if path == "" else "POST"
    url = f"/dapr/{iid}/{path}".rstrip("/")
    for body in (b"1", b"[]"):
        resp = http.request(verb, url, content=body)
        assert_error(resp, 400, "ERR_MALFORMED_REQUEST", "failed deserializing HTTP body: ")
    resp = http.request(verb, url, content=b'{"anything": 1, "instanceId": "another"}')  # the path's id wins
    assert resp.status_code in (404, 500), resp.text
    assert iid in resp.json()["message"]


# -- routing and security -------------------------------------------------------------------


def test_the_component_segment_is_not_checked(http: httpx.Client, client: wf.DaprWorkflowClient) -> None:
    """Since 1.15 the engine is built in and daprd never looks the `{component}` segment up:
    ERR_WORKFLOW_COMPONENT_NOT_FOUND is defined but unused (dapr/dapr#9830). Any name works."""
    resp = http.post(
        "/no-such-component/wfhttp_describe_input/start",
        params={"instanceID": new_id("h-comp")},
        content=b"1",
    )
    assert resp.status_code == 202
    iid = resp.json()["instanceID"]
    wait_done(client, iid)
    assert http.get(f"/another-one/{iid}").json()["runtimeStatus"] == "COMPLETED"


def test_alpha1_and_beta1_paths_are_the_same_api(target: Target, http: httpx.Client) -> None:
    """workflow.go registers every route under v1.0-alpha1, v1.0-beta1 and v1.0."""
    iid = start(http, "wfhttp_wait", '"v"', new_id("h-ver"))
    for version in ("v1.0-alpha1", "v1.0-beta1"):
        resp = httpx.get(f"{target.main.http_url}/{version}/workflows/dapr/{iid}")
        assert resp.status_code == 200 and resp.json()["instanceID"] == iid
    assert_accepted(httpx.post(f"{target.main.http_url}/v1.0-beta1/workflows/dapr/{iid}/terminate"))
