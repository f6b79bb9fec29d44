"""The stuck-engine watch: what daprd 1.18.2's metadata shows, and when the app asks for a restart."""

from __future__ import annotations

import json
from typing import Any

from dapr_helpers.client import DaprHttpError, DaprUnavailable
from order_app.workflow.engine_watch import EngineWatch, engine_lost_worker

# As daprd 1.18.2 answered GET /v1.0/metadata in this project's fault runs (other keys left out).
HEALTHY = {
    "actorRuntime": {
        "runtimeStatus": "RUNNING",
        "activeActors": [
            {"type": "dapr.internal.default.order.activity"},
            {"type": "dapr.internal.default.order.workflow"},
            {"type": "dapr.internal.default.order.retentioner"},
        ],
        "hostReady": True,
        "placement": "placement: connected",
    },
    "workflows": {"connectedWorkers": 1},
}
STUCK = {"actorRuntime": {"runtimeStatus": "RUNNING", "hostReady": True, "placement": "placement: connected"}}


class FakeSidecar:
    def __init__(self, answers: list[dict[str, Any] | Exception]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str]] = []

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes, str | None]:
        """DaprHttp's paths are relative to /v1.0, as daprd routes them."""
        self.calls.append((method, path))
        if (method, path) == ("POST", "/shutdown"):
            return 204, b"", None
        if (method, path) != ("GET", "/metadata"):
            raise DaprHttpError(404, "ERR_DIRECT_INVOKE", f"no route {method} {path}")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return 200, json.dumps(answer).encode(), None


def test_metadata_of_a_healthy_and_of_a_stuck_engine() -> None:
    assert not engine_lost_worker(HEALTHY)
    assert engine_lost_worker(STUCK)
    assert engine_lost_worker({**STUCK, "workflows": {"connectedWorkers": 0}})
    # Another namespace (Kubernetes) names the types differently.
    other = {"actorRuntime": {"activeActors": [{"type": "dapr.internal.order-saga.order.workflow"}]}}
    assert not engine_lost_worker(other)


async def test_three_stuck_answers_in_a_row_ask_the_sidecar_to_restart() -> None:
    sidecar = FakeSidecar([STUCK, STUCK, STUCK])
    watch = EngineWatch(sidecar, checks=3)
    assert [await watch.check() for _ in range(3)] == [False, False, True]
    assert sidecar.calls[-1] == ("POST", "/shutdown")
    assert watch.restarts == 1


async def test_a_healthy_answer_or_a_reconnect_starts_the_count_again() -> None:
    sidecar = FakeSidecar([STUCK, STUCK, HEALTHY, STUCK, STUCK])
    watch = EngineWatch(sidecar, checks=3)
    results = [await watch.check() for _ in range(3)]
    watch.reset()  # the worker reconnected
    results += [await watch.check() for _ in range(2)]
    assert results == [False] * 5
    assert ("POST", "/shutdown") not in sidecar.calls


async def test_an_unreachable_sidecar_is_not_counted_as_stuck() -> None:
    sidecar = FakeSidecar([STUCK, DaprUnavailable("down"), STUCK, STUCK])
    watch = EngineWatch(sidecar, checks=3)
    assert [await watch.check() for _ in range(4)] == [False, False, False, True]
