"""Service invocation through the real SDK (`DaprClient.invoke_method`, HTTP by default).

Each test names the daprd behaviour it mirrors (dapr/dapr
`pkg/api/http/directmessaging.go`, `pkg/messaging`).
"""

from __future__ import annotations

import json
import uuid

import grpc
import httpx
import pytest
from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprHttpError
from dapr.clients.grpc.client import DaprGrpcClient
from dapr.proto import api_v1, common_v1
from dapr.proto.runtime.v1 import dapr_pb2_grpc as api_v1_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from .conftest import Target

PEER = "contract-peer"


def _echo(resp: object) -> dict:
    return json.loads(resp.data)  # type: ignore[attr-defined]


@pytest.mark.parametrize("verb", ["GET", "POST", "PUT", "DELETE", "PATCH"])
def test_every_http_verb_reaches_the_app(target: Target, verb: str) -> None:
    """daprd forwards the caller's HTTP verb unchanged (WithHTTPExtension(verb, ...))."""
    with DaprClient(address=target.main.grpc_address) as d:
        resp = d.invoke_method(PEER, "invoke/echo/verbs", data=b"", http_verb=verb)
    assert resp.status_code == 200
    assert _echo(resp)["method"] == verb
    assert _echo(resp)["path"] == "/invoke/echo/verbs"


def test_query_string_body_and_headers_pass_through(target: Target) -> None:
    """The raw query string, body, content type and custom headers reach the app as sent."""
    body = json.dumps({"n": uuid.uuid4().hex})
    with DaprClient(address=target.main.grpc_address) as d:
        resp = d.invoke_method(
            PEER,
            "invoke/echo/q",
            data=body,
            http_verb="POST",
            http_querystring=(("a", "1"), ("b", "x y")),
            metadata=(("x-custom", "kept"),),
            content_type="application/json",
        )
    seen = _echo(resp)
    assert seen["query"] == "a=1&b=x+y"
    assert seen["body"] == body
    assert seen["headers"]["x-custom"] == "kept"
    assert seen["headers"]["content-type"] == "application/json"


def test_caller_and_callee_app_ids_are_sent_to_the_app(target: Target) -> None:
    """daprd adds `dapr-caller-app-id` and `dapr-callee-app-id` to every invoked request."""
    with DaprClient(address=target.main.grpc_address) as d:
        resp = d.invoke_method(PEER, "invoke/echo/who", http_verb="GET")
    headers = _echo(resp)["headers"]
    assert headers["dapr-caller-app-id"] == "contract"
    assert headers["dapr-callee-app-id"] == PEER


def test_app_response_headers_and_success_status_come_back(target: Target) -> None:
    """The app's status code and headers are copied to the caller's response, their names in
    Go's canonical form (net/http keeps them so: `x-echo-reply` arrives as `X-Echo-Reply`)."""
    with DaprClient(address=target.main.grpc_address) as d:
        resp = d.invoke_method(PEER, "invoke/status/201", http_verb="POST")
    assert resp.status_code == 201
    assert ("X-Echo-Reply", "yes") in resp.get_headers()
    assert json.loads(resp.data) == {"status": 201, "from": PEER}


@pytest.mark.parametrize("code", [404, 500])
def test_app_error_status_and_body_pass_through(target: Target, code: int) -> None:
    """A 4xx/5xx from the app is returned as is (status and body), not as a Dapr error."""
    with DaprClient(address=target.main.grpc_address) as d, pytest.raises(DaprHttpError) as err:
        d.invoke_method(PEER, f"invoke/status/{code}", http_verb="GET")
    assert err.value.status_code == code
    assert json.loads(err.value.raw_response_bytes or b"{}") == {"status": code, "from": PEER}


def test_unknown_app_id_is_err_direct_invoke(target: Target) -> None:
    """An app id no sidecar serves fails with 500 ERR_DIRECT_INVOKE ("failed to invoke, id: ...")."""
    with DaprClient(address=target.main.grpc_address) as d, pytest.raises(DaprHttpError) as err:
        d.invoke_method(f"nobody-{uuid.uuid4().hex[:8]}", "anything", http_verb="GET")
    assert err.value.status_code == 500
    assert err.value.error_code == "ERR_DIRECT_INVOKE"
    assert "failed to invoke, id: nobody-" in str(err.value)


def test_invocation_works_in_both_directions(target: Target) -> None:
    """Each sidecar can reach the other app: the peer calls back the main app."""
    target.configure_sdk(target.peer)
    try:
        with DaprClient(address=target.peer.grpc_address) as d:
            resp = d.invoke_method("contract", "invoke/echo/back", http_verb="GET")
        assert _echo(resp)["app"] == "contract"
        assert _echo(resp)["headers"]["dapr-caller-app-id"] == PEER
    finally:
        target.configure_sdk()


def test_dapr_app_id_header_form(target: Target) -> None:
    """`dapr-app-id: <id>` on any path invokes that path on the app (findTargetIDAndMethod)."""
    r = httpx.put(
        f"{target.main.http_url}/invoke/echo/header-form?x=1",
        headers={"dapr-app-id": PEER},
        content=b"payload",
    )
    assert r.status_code == 200
    seen = r.json()
    assert (seen["app"], seen["method"], seen["path"], seen["query"], seen["body"]) == (
        PEER,
        "PUT",
        "/invoke/echo/header-form",
        "x=1",
        "payload",
    )
    assert "dapr-app-id" not in seen["headers"]


@pytest.mark.parametrize(
    ("code", "grpc_code", "text"),
    [(404, "NOT_FOUND", "Not Found"), (500, "UNKNOWN", "Internal Server Error")],
)
def test_grpc_invoke_of_an_app_error(target: Target, code: int, grpc_code: str, text: str) -> None:
    """grpc.go InvokeService: an HTTP app's non-2xx status becomes messaging/v1
    ErrorFromHTTPResponseCode: CodeFromHTTPStatus, the status text as message, and an ErrorInfo
    with `http.code` and the body (cut to 63 characters) as `http.error_message`."""
    request = api_v1.InvokeServiceRequest(
        id=PEER,
        message=common_v1.InvokeRequest(
            method=f"invoke/status/{code}",
            http_extension=common_v1.HTTPExtension(verb=common_v1.HTTPExtension.GET),
        ),
    )
    with grpc.insecure_channel(target.main.grpc_address) as channel, pytest.raises(grpc.RpcError) as err:
        api_v1_grpc.DaprStub(channel).InvokeService(request, timeout=10)
    assert err.value.code().name == grpc_code
    assert err.value.details() == text
    status = rpc_status.from_call(err.value)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    body = json.dumps({"status": code, "from": PEER}, separators=(",", ":"))
    assert (info.reason, info.domain) == (text, "dapr.io")
    assert dict(info.metadata) == {"http.code": str(code), "http.error_message": body[:63]}


@pytest.mark.filterwarnings("ignore:invoke_method with protocol gRPC is deprecated")
def test_grpc_invoke_service(target: Target) -> None:
    """gRPC `InvokeService` with an HTTP extension reaches an HTTP app with that verb and query."""
    with DaprGrpcClient(address=target.main.grpc_address) as d:
        resp = d.invoke_method(
            PEER, "invoke/echo/grpc", data=b"hi", http_verb="PATCH", http_querystring=(("k", "v"),)
        )
    seen = json.loads(resp.data)
    assert (seen["method"], seen["query"], seen["body"]) == ("PATCH", "k=v", "hi")
