"""API tokens: DAPR_API_TOKEN guards the sidecar's API, APP_API_TOKEN authenticates it to the app.

Mirrors dapr/dapr `pkg/api/http/middlewares.go` (APITokenAuthMiddleware) and
`pkg/api/grpc/auth.go`: with DAPR_API_TOKEN set, every API call needs the
`dapr-api-token` header (gRPC metadata) except `GET` of the two healthz paths; with
APP_API_TOKEN set, daprd sends it to the app as `dapr-api-token` on every call.
These tests start sidecars of their own with tokens configured (the shared target
has none).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprGrpcError, DaprHttpError
from dapr.conf import settings

from .app import Recorder
from .app_invoke import echo_app
from .runtimes import private_sidecars

DAPR_TOKEN = "dapr-token-for-tests"
APP_TOKEN = "app-token-for-tests"


@pytest.fixture(scope="module")
def tokens(runtime: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Recorder]]:
    recorder = Recorder()
    env = {"DAPR_API_TOKEN": DAPR_TOKEN, "APP_API_TOKEN": APP_TOKEN}
    apps = [{"app_id": "tok", "app": echo_app("tok", recorder), "env": env}]
    with private_sidecars(runtime, Path(tmp_path_factory.mktemp("tokens")), apps) as sidecars:
        yield sidecars["tok"], recorder


@pytest.fixture
def sdk(tokens: tuple[Any, Recorder], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Point the SDK at the token-protected sidecar; the test sets settings.DAPR_API_TOKEN."""
    sidecar, _ = tokens
    monkeypatch.setattr(settings, "DAPR_HTTP_PORT", sidecar.http_port)
    monkeypatch.setattr(settings, "DAPR_GRPC_PORT", sidecar.grpc_port)
    monkeypatch.setattr(settings, "DAPR_RUNTIME_HOST", "127.0.0.1")
    monkeypatch.setattr(settings, "DAPR_API_TOKEN", None)
    return sidecar


def test_missing_token_is_401_but_healthz_is_exempt(sdk: Any) -> None:
    """Without the header the API answers 401; `DaprClient()` still connects (healthz is exempt)."""
    with DaprClient(address=sdk.grpc_address) as d, pytest.raises(DaprHttpError) as err:
        d.invoke_method("tok", "invoke/echo/x", http_verb="GET")
    assert err.value.status_code == 401


def test_wrong_token_is_401(sdk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token that does not match DAPR_API_TOKEN is refused like a missing one."""
    monkeypatch.setattr(settings, "DAPR_API_TOKEN", "not-the-token")
    with DaprClient(address=sdk.grpc_address) as d, pytest.raises(DaprHttpError) as err:
        d.invoke_method("tok", "invoke/echo/x", http_verb="GET")
    assert err.value.status_code == 401


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        ("not-the-token", "authentication error: api token mismatch"),
        (None, "missing api token in request metadata"),
    ],
)
def test_wrong_token_on_grpc_is_unauthenticated(
    sdk: Any, monkeypatch: pytest.MonkeyPatch, token: str | None, detail: str
) -> None:
    """On gRPC the token goes in the `dapr-api-token` metadata. auth.go answers with
    messaging's ErrorFromHTTPResponseCode(401, reason): UNAUTHENTICATED, message "Unauthorized",
    an ErrorInfo whose metadata holds the HTTP code and the reason."""
    monkeypatch.setattr(settings, "DAPR_API_TOKEN", token)
    with DaprClient(address=sdk.grpc_address) as d, pytest.raises(DaprGrpcError) as err:
        d.get_metadata()
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.value.details() == "Unauthorized"
    info = err.value.status_details().error_info
    assert info == {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "Unauthorized",
        "domain": "dapr.io",
        "metadata": {"http.code": "401", "http.error_message": detail},
    }


def test_right_token_is_accepted_and_app_receives_app_api_token(
    sdk: Any, tokens: tuple[Any, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the right token the call goes through; the app sees APP_API_TOKEN, never the caller's token."""
    monkeypatch.setattr(settings, "DAPR_API_TOKEN", DAPR_TOKEN)
    with DaprClient(address=sdk.grpc_address) as d:
        resp = d.invoke_method("tok", "invoke/echo/with-token", http_verb="GET")
        assert d.get_metadata().application_id == "tok"
    seen = json.loads(resp.data)
    assert seen["headers"]["dapr-api-token"] == APP_TOKEN


def test_http_refusal_is_a_plain_text_401(tokens: tuple[Any, Recorder]) -> None:
    """middlewares.go: Go's http.Error, `invalid api token` as text/plain, for every route but
    `GET /v1.0/healthz` and `GET /v1.0/healthz/outbound` (another verb on them needs it too)."""
    sidecar, _ = tokens
    resp = httpx.get(f"{sidecar.http_url}/v1.0/metadata")
    assert resp.status_code == 401
    assert resp.text == "invalid api token\n"
    assert resp.headers["content-type"] == "text/plain; charset=utf-8"
    for path in ("/v1.0/healthz", "/v1.0/healthz/outbound", "/v1.0/healthz/"):
        assert httpx.get(f"{sidecar.http_url}{path}").status_code == 204, path
    assert httpx.post(f"{sidecar.http_url}/v1.0/healthz").status_code == 401


def test_workflow_http_api_requires_the_token(tokens: tuple[Any, Recorder]) -> None:
    """The `/v1.0/workflows/...` routes sit behind the same middleware: 401 without the header,
    and with it the call reaches the workflow engine (here without an actor state store:
    500 ERR_GET_WORKFLOW, as test_workflow_api's sidecar without one)."""
    sidecar, _ = tokens
    url = f"{sidecar.http_url}/v1.0/workflows/dapr"
    resp = httpx.get(f"{url}/no-such-instance")
    assert resp.status_code == 401
    assert resp.text == "invalid api token\n"
    assert httpx.post(f"{url}/any/start", headers={"dapr-api-token": "not-the-token"}).status_code == 401
    resp = httpx.get(f"{url}/no-such-instance", headers={"dapr-api-token": DAPR_TOKEN})
    assert resp.status_code == 500
    assert resp.json()["errorCode"] == "ERR_GET_WORKFLOW"
    assert resp.json()["message"].startswith(
        "error while getting workflow info on instance 'no-such-instance': failed to get workflow metadata "
        "for 'no-such-instance': failed to fetch workflow metadata: api error: code = Internal desc = "
        "the state store is not configured to use the actor runtime."
    )
