"""Service invocation under a `Resiliency` (`spec.targets.apps.<id>`), and unreachable apps.

Mirrors dapr/dapr `pkg/api/http/directmessaging.go` with `pkg/resiliency`: the
caller's sidecar retries a call whose status is outside 200-399 (or that
could not be sent) under the target app's retry policy, and cuts it off after
the target's timeout with 500 ERR_DIRECT_INVOKE. A retry's `matching.httpStatusCodes`
(`pkg/resiliency/retry.go`) limits the statuses it retries on the HTTP API; gRPC
`InvokeService` (`pkg/api/grpc/grpc.go`) turns the status into a gRPC error, not a
resiliency CodeError, so there every non-2xx status is retried whatever the list says.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprHttpError
from dapr.conf import settings
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from .runtimes import private_sidecars

RESILIENCY = """
apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: invoke-policies
spec:
  policies:
    timeouts:
      short: 500ms
    retries:
      twice:
        policy: constant
        duration: 50ms
        maxRetries: 2
      only5xx:
        policy: constant
        duration: 50ms
        maxRetries: 2
        matching:
          httpStatusCodes: "500-599"
  targets:
    apps:
      res-target:
        timeout: short
        retry: twice
      res-matched:
        retry: only5xx
"""


def _target_app(calls: Counter[str]) -> FastAPI:
    app = FastAPI()

    @app.get("/flaky/{key}/{failures}")
    async def flaky(key: str, failures: int) -> JSONResponse:
        calls[key] += 1
        if calls[key] <= failures:
            return JSONResponse({"attempt": calls[key]}, status_code=503)
        return JSONResponse({"attempt": calls[key]})

    @app.get("/slow")
    async def slow() -> JSONResponse:
        await asyncio.sleep(3)
        return JSONResponse({"late": True})

    return app


def _status_app(calls: Counter[str]) -> FastAPI:
    app = FastAPI()

    @app.get("/status/{key}/{code}")
    async def status(key: str, code: int) -> JSONResponse:
        calls[key] += 1
        return JSONResponse({"attempt": calls[key]}, status_code=code)

    return app


@pytest.fixture(scope="module")
def resiliency(runtime: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Counter[str]]]:
    calls: Counter[str] = Counter()
    apps: list[dict[str, Any]] = [
        {"app_id": "res-target", "app": _target_app(calls)},
        {"app_id": "res-caller"},
        {"app_id": "res-down", "app_down": True},
        {"app_id": "res-matched", "app": _status_app(calls)},
    ]
    workdir = Path(tmp_path_factory.mktemp("resiliency"))
    with private_sidecars(runtime, workdir, apps, {"resiliency.yaml": RESILIENCY}) as sidecars:
        yield sidecars["res-caller"], calls


@pytest.fixture
def caller(resiliency: tuple[Any, Counter[str]], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(settings, "DAPR_HTTP_PORT", resiliency[0].http_port)
    monkeypatch.setattr(settings, "DAPR_RUNTIME_HOST", "127.0.0.1")
    return resiliency[0]


def test_failed_calls_are_retried_under_the_policy(caller: Any, resiliency: Any) -> None:
    """Two 503s then a 200: with maxRetries 2 the caller sees the 200 on the third attempt."""
    with DaprClient(address=caller.grpc_address) as d:
        resp = d.invoke_method("res-target", "flaky/a/2", http_verb="GET")
    assert json.loads(resp.data) == {"attempt": 3}


def test_retries_stop_after_max_retries(caller: Any, resiliency: Any) -> None:
    """When every attempt fails, the last app response (status and body) is returned."""
    with DaprClient(address=caller.grpc_address) as d, pytest.raises(DaprHttpError) as err:
        d.invoke_method("res-target", "flaky/b/9", http_verb="GET")
    assert err.value.status_code == 503
    assert resiliency[1]["b"] == 3  # the call and two retries


def test_timeout_cuts_a_slow_call(caller: Any) -> None:
    """A call slower than the target's timeout fails with 500 ERR_DIRECT_INVOKE."""
    with DaprClient(address=caller.grpc_address) as d, pytest.raises(DaprHttpError) as err:
        d.invoke_method("res-target", "slow", http_verb="GET")
    assert err.value.status_code == 500
    assert err.value.error_code == "ERR_DIRECT_INVOKE"


def test_app_that_is_down_is_err_direct_invoke(caller: Any) -> None:
    """A known app id whose app does not listen fails with 500 ERR_DIRECT_INVOKE (no policy: no retry)."""
    with DaprClient(address=caller.grpc_address) as d, pytest.raises(DaprHttpError) as err:
        d.invoke_method("res-down", "anything", http_verb="GET")
    assert err.value.status_code == 500
    assert err.value.error_code == "ERR_DIRECT_INVOKE"
    assert "failed to invoke, id: res-down" in str(err.value)


def test_matching_status_outside_the_list_is_not_retried(caller: Any, resiliency: Any) -> None:
    """retry.go statusCodeNeedRetry: with `httpStatusCodes: "500-599"` a 404 is final (the
    policy runner gets it as a permanent error): one call, and the app's 404 comes back."""
    with DaprClient(address=caller.grpc_address) as d, pytest.raises(DaprHttpError) as err:
        d.invoke_method("res-matched", "status/m404/404", http_verb="GET")
    assert err.value.status_code == 404
    assert resiliency[1]["m404"] == 1


def test_matching_status_in_the_list_is_retried(caller: Any, resiliency: Any) -> None:
    """A 503 is in "500-599": the call and maxRetries (2) retries, then the last 503."""
    with DaprClient(address=caller.grpc_address) as d, pytest.raises(DaprHttpError) as err:
        d.invoke_method("res-matched", "status/m503/503", http_verb="GET")
    assert err.value.status_code == 503
    assert resiliency[1]["m503"] == 3


def test_matching_is_ignored_by_grpc_invoke_service(
    caller: Any, resiliency: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """grpc.go InvokeService: the app's 404 becomes a gRPC NOT_FOUND error, which the policy
    cannot match against `httpStatusCodes`, so it is retried like any failure (3 calls)."""
    monkeypatch.setattr(settings, "DAPR_API_METHOD_INVOCATION_PROTOCOL", "grpc")
    with DaprClient(address=caller.grpc_address) as d, pytest.raises(grpc.RpcError) as err:
        d.invoke_method("res-matched", "status/g404/404", http_verb="GET")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert resiliency[1]["g404"] == 3
