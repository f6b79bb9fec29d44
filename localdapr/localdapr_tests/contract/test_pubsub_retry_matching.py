"""A pub/sub inbound retry policy with `matching.httpStatusCodes`.

dapr/dapr `pkg/runtime/subscription/postman/http/http.go` Deliver reports an app's error status
(anything but 2xx and 404) as a resiliency CodeError, and `pkg/resiliency/policy.go` retries a
CodeError only when `pkg/resiliency/retry.go` statusCodeNeedRetry matches its code; any other
code ends the delivery at once, which then goes to the dead-letter topic as an exhausted one
does (`pkg/runtime/subscription/subscription.go`). A RETRY answer is no CodeError: always retried.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dapr.ext.fastapi import DaprApp
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .app import Recorder
from .runtimes import private_sidecars

RESOURCES = {
    "pubsub.yaml": (Path(__file__).parent / "resources" / "pubsub.yaml").read_text(),
    "resiliency.yaml": """
apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: matching
spec:
  policies:
    retries:
      only5xx:
        policy: constant
        duration: 50ms
        maxRetries: 2
        matching:
          httpStatusCodes: "500-599"
  targets:
    components:
      pubsub:
        inbound:
          retry: only5xx
""",
}


def subscriber(recorder: Recorder) -> FastAPI:
    app = FastAPI()
    dapr = DaprApp(app)

    @dapr.subscribe(pubsub="pubsub", topic="match-status", dead_letter_topic="match-dead")
    async def status(request: Request) -> JSONResponse:
        data = (await request.json())["data"]
        recorder.add(f"try:{data['k']}", 1)
        if data["code"] == 200:
            return JSONResponse({"status": "RETRY"})  # RETRY rides on a 200
        return JSONResponse({}, status_code=data["code"])

    @dapr.subscribe(pubsub="pubsub", topic="match-dead")
    async def dead(request: Request) -> JSONResponse:
        recorder.add(f"dead:{(await request.json())['data']['k']}", 1)
        return JSONResponse({"status": "SUCCESS"})

    return app


@pytest.fixture(scope="module")
def sidecars(runtime: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Recorder]]:
    recorder = Recorder()
    apps: list[dict[str, Any]] = [
        {"app_id": "match-pub"},
        {"app_id": "match-sub", "app": subscriber(recorder)},
    ]
    with private_sidecars(runtime, Path(tmp_path_factory.mktemp("match")), apps, RESOURCES) as started:
        yield started, recorder


def attempts(sidecars: tuple[Any, Recorder], code: int) -> int:
    """Publish a message the subscriber answers with `code`; once it is dead-lettered (after
    the last attempt), how many times it was delivered."""
    started, recorder = sidecars
    k = uuid.uuid4().hex
    url = f"{started['match-pub'].http_url}/v1.0/publish/pubsub/match-status"
    assert httpx.post(url, json={"k": k, "code": code}).status_code == 204
    assert recorder.wait_for(f"dead:{k}", 1, timeout=20), "never dead-lettered"
    return len(recorder.get(f"try:{k}"))


def test_a_status_outside_the_list_is_not_retried(sidecars: tuple[Any, Recorder]) -> None:
    """400 is not in "500-599": one delivery, then the dead-letter topic."""
    assert attempts(sidecars, 400) == 1


def test_a_status_in_the_list_is_retried(sidecars: tuple[Any, Recorder]) -> None:
    """503 is: the delivery and maxRetries (2) retries."""
    assert attempts(sidecars, 503) == 3


def test_retry_answer_is_retried_whatever_the_list(sidecars: tuple[Any, Recorder]) -> None:
    """RETRY is not a CodeError, so `matching` does not apply to it."""
    assert attempts(sidecars, 200) == 3
