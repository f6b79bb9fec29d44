"""Asking a step's command of its participant by service invocation, against a fake sidecar."""

import json
from datetime import timedelta
from typing import Any

import pytest
from dapr_helpers.client import DaprHttpError, DaprUnavailable
from order_app.adapters import participants as module
from order_app.adapters.participants import DaprParticipants
from order_app.workflow.messages import Command

RESERVE = Command(
    participant="stock", body={"order_id": 7, "action": "reserve", "product_id": 1, "quantity": 2}
)
OK = {"order_id": 7, "participant": "stock", "action": "reserve", "ok": True, "message": "reserved"}


class FakeSidecar:
    """Plays each of `answers` in turn (an exception is raised), then the last one again."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, Any]] = []

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes, str | None]:
        self.calls.append((method, path, body))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return 200, json.dumps(answer).encode(), None


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "FIRST_PAUSE", 0.001)
    monkeypatch.setattr(module, "MAX_PAUSE", 0.001)


async def test_posts_the_command_to_the_participants_app_and_returns_its_reply() -> None:
    sidecar = FakeSidecar(OK)
    answer = await DaprParticipants(sidecar, {"stock": "stock-v2"}).ask(RESERVE, timedelta(seconds=5))

    assert answer.reply is not None and answer.reply.ok and answer.reply.message == "reserved"
    assert sidecar.calls == [("POST", "/invoke/stock-v2/method/saga/commands", RESERVE.body)]


async def test_a_participant_away_or_failing_is_asked_again_until_it_answers() -> None:
    sidecar = FakeSidecar(
        DaprUnavailable("sidecar down"), DaprHttpError(500, "ERR_DIRECT_INVOKE", "no app"), {"bad": 1}, OK
    )
    answer = await DaprParticipants(sidecar, {"stock": "stock"}).ask(RESERVE, timedelta(seconds=5))

    assert answer.reply is not None and answer.reply.ok
    assert len(sidecar.calls) == 4


async def test_no_answer_by_the_deadline_is_an_answer_without_a_reply() -> None:
    sidecar = FakeSidecar(DaprHttpError(503, "ERR_DIRECT_INVOKE", "circuit breaker open"))
    answer = await DaprParticipants(sidecar, {"stock": "stock"}).ask(RESERVE, timedelta(milliseconds=50))

    assert answer.reply is None
    assert answer.error.startswith("stock did not answer in 0:00:00.050000: 503 ERR_DIRECT_INVOKE")
    assert len(sidecar.calls) > 1


async def test_a_command_the_participant_cannot_read_is_not_asked_again() -> None:
    sidecar = FakeSidecar(DaprHttpError(422, "invalid_command", "quantity: Input should be greater than 0"))
    answer = await DaprParticipants(sidecar, {"stock": "stock"}).ask(RESERVE, timedelta(seconds=5))

    assert answer.reply is None
    assert answer.error == "stock refused the command: quantity: Input should be greater than 0"
    assert len(sidecar.calls) == 1
