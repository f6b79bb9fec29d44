"""`/metrics` on every app, and the participants' command counter.

The series are process-wide (see `dapr_helpers.metrics`), so each test reads them
before and after and asserts the difference.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from dapr_helpers.app_token import require_app_token
from dapr_helpers.metrics import sample
from dapr_helpers.saga.contract import COMMANDS_METHOD, STOCK, ReleaseStock, ReserveStock
from dapr_helpers.saga.handler import Handler, ParticipantCommands
from dapr_helpers.saga.participation import Outcome, Participation, StepRefused, replaying
from dapr_helpers.service import serve_commands, service_app
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from saga_testkit.dapr import RecordingPublisher
from saga_testkit.fixtures import cloud_event

PARTICIPANT = "metrics-test"  # a participant of its own, so no other test moves its series


def commands(action: str, result: str, participant: str = PARTICIPANT) -> float:
    labels = {"participant": participant, "action": action, "result": result}
    return sample("saga_commands_total", labels)


class OutOfUnits(StepRefused):
    code = "out_of_units"


class Cancelled(StepRefused):
    code = "order_cancelled"


@dataclass
class Units(Participation):
    DO: ClassVar[str] = "reserve"
    UNDO: ClassVar[str] = "release"
    DONE: ClassVar[str] = "reserved"
    UNDONE: ClassVar[str] = "released"
    REFUSALS: ClassVar[type[StepRefused]] = StepRefused
    CANCELLED: ClassVar[type[StepRefused]] = Cancelled


class Shop:
    """A participant whose records live in a dict: a duplicate finds the stored outcome."""

    def __init__(self, left: int, fail: int = 0) -> None:
        self.left, self.fail = left, fail
        self.records: dict[int, Units] = {}

    async def reserve(self, command: ReserveStock) -> Outcome:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("store away")
        record = self.records.setdefault(command.order_id, Units(command.order_id))
        if (done := record.outcome_of("reserve")) is not None:
            return done
        return record.do(self._take(command.quantity))

    async def release(self, command: ReleaseStock) -> Outcome:
        record = self.records.setdefault(command.order_id, Units(command.order_id))
        if (done := record.outcome_of("release")) is not None:
            return done
        return record.undo(lambda: ("given back", {}), nothing={})

    def _take(self, quantity: int) -> Any:
        def take() -> tuple[str, dict[str, Any]]:
            if quantity > self.left:
                raise OutOfUnits("not enough")
            self.left -= quantity
            return "taken", {}

        return take


def participant(shop: Shop, publisher: RecordingPublisher | None = None) -> ParticipantCommands:
    handlers: dict[str, Handler] = {"reserve": shop.reserve, "release": shop.release}
    log = logging.getLogger("test_metrics")
    return ParticipantCommands(PARTICIPANT, handlers, publisher or RecordingPublisher(), "replies", log)


def reserve(order_id: int, quantity: int = 1) -> ReserveStock:
    return ReserveStock(order_id=order_id, product_id=1, quantity=quantity)


def test_every_command_is_counted_once_by_action_and_result() -> None:
    before = {r: commands("reserve", r) for r in ("done", "refused", "replayed", "failed")}
    released = commands("release", "done")
    shop = Shop(left=1, fail=1)
    handler = participant(shop)

    async def deliveries() -> None:
        with pytest.raises(ConnectionError):
            await handler.handle(reserve(1))  # failed: Dapr redelivers it
        await handler.handle(reserve(1))  # done
        await handler.handle(reserve(1))  # replayed: the stored outcome
        await handler.handle(reserve(2))  # refused: no unit left
        await handler.handle(reserve(2))  # replayed, a refusal too
        await handler.handle(ReleaseStock(order_id=1))  # done

    asyncio.run(deliveries())

    after = {r: commands("reserve", r) for r in before}
    assert {r: after[r] - before[r] for r in before} == {"done": 1, "refused": 1, "replayed": 2, "failed": 1}
    assert commands("release", "done") - released == 1
    assert not replaying.get(), "the marker never leaks out of a handling"


def test_a_reply_that_fails_to_publish_counts_its_handling_and_its_redelivery_replays() -> None:
    publisher = RecordingPublisher()
    publisher.failures = 1
    handler = participant(Shop(left=5), publisher)
    done, replayed = commands("reserve", "done"), commands("reserve", "replayed")

    async def deliveries() -> None:
        with pytest.raises(ConnectionError):
            await handler.handle(reserve(3))
        await handler.handle(reserve(3))

    asyncio.run(deliveries())
    assert (commands("reserve", "done") - done, commands("reserve", "replayed") - replayed) == (1, 1)


def test_concurrent_handlings_keep_their_own_replay_marker() -> None:
    shop = Shop(left=10)
    handler = participant(shop)
    asyncio.run(handler.handle(reserve(4)))  # stored: the next one for order 4 is a replay
    done, replayed = commands("reserve", "done"), commands("reserve", "replayed")

    async def both() -> None:
        await asyncio.gather(handler.handle(reserve(4)), handler.handle(reserve(5)))

    asyncio.run(both())
    assert (commands("reserve", "done") - done, commands("reserve", "replayed") - replayed) == (1, 1)


def app_with_commands(shop: Shop) -> FastAPI:
    app = service_app(PARTICIPANT, "metrics test", prefix="/shop")
    app.state.commands = participant(shop)
    serve_commands(app, "pubsub", "shop-commands", STOCK.parse, "/shop")
    return app


def deliver(client: TestClient, data: Any) -> dict[str, Any]:
    r = client.post("/events/pubsub/shop-commands", json=cloud_event(data, "shop-commands"))
    assert r.status_code == 200, r.text
    return r.json()


def test_a_command_that_never_parses_is_counted_malformed_with_an_unknown_action() -> None:
    before = commands("unknown", "malformed")
    with TestClient(app_with_commands(Shop(left=1))) as client:
        assert deliver(client, {"order_id": 1, "action": "steal"}) == {"status": "DROP"}
        assert deliver(client, "not even an object") == {"status": "DROP"}
        assert deliver(client, {"order_id": 9, "action": "release"}) == {"status": "SUCCESS"}
    assert commands("unknown", "malformed") - before == 2


def test_every_app_serves_its_metrics_outside_the_api_document() -> None:
    with TestClient(app_with_commands(Shop(left=1))) as client:
        deliver(client, {"order_id": 21, "action": "reserve", "product_id": 1, "quantity": 1})
        r = client.get("/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain; version=")
        families = {f.name: f for f in text_string_to_metric_families(r.text)}
        assert "/metrics" not in client.get("/shop/openapi.json").json()["paths"]
    mine = [
        s
        for s in families["saga_commands"].samples
        if s.labels["participant"] == PARTICIPANT and s.labels["action"] == "reserve"
    ]
    assert mine and all(s.name == "saga_commands_total" for s in mine)
    assert not [f for f in families if f.endswith("_created")], "no _created series"


def test_metrics_need_no_app_token_while_internal_routes_do() -> None:
    app = app_with_commands(Shop(left=1))
    require_app_token(app, "/shop", token="secret")
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 200  # Prometheus sends no Dapr token
        assert client.get("/dapr/subscribe").status_code == 401


# -- the same commands by service invocation ------------------------------------------


def invoke(client: TestClient, data: Any) -> Any:
    return client.post(f"/{COMMANDS_METHOD}", json=data)


def test_an_invoked_command_is_answered_with_its_reply_and_publishes_nothing() -> None:
    shop = Shop(left=1)
    app = app_with_commands(shop)
    done = commands("reserve", "done")
    with TestClient(app) as client:
        first = invoke(client, reserve(5).model_dump(mode="json"))
        again = invoke(client, reserve(5).model_dump(mode="json"))  # a duplicate: the same reply
        refused = invoke(client, reserve(6).model_dump(mode="json"))

    assert first.status_code == 200, first.text
    assert first.json() == again.json()
    assert first.json() | {"message": ""} == {
        "order_id": 5,
        "participant": PARTICIPANT,
        "action": "reserve",
        "ok": True,
        "reason": None,
        "message": "",
        "details": {},
    }
    assert (refused.json()["ok"], refused.json()["reason"]) == (False, "out_of_units")
    assert shop.left == 0
    assert commands("reserve", "done") - done == 1
    assert app.state.commands.publisher.published == []


def test_an_invoked_command_that_does_not_parse_is_a_problem_and_changes_nothing() -> None:
    shop = Shop(left=1)
    malformed = commands("unknown", "malformed")
    with TestClient(app_with_commands(shop)) as client:
        bad_quantity = invoke(client, {"order_id": 5, "action": "reserve", "product_id": 1, "quantity": 0})
        not_json = client.post(
            f"/{COMMANDS_METHOD}", content=b"{", headers={"content-type": "application/json"}
        )

    assert bad_quantity.status_code == 422
    assert bad_quantity.json()["code"] == "invalid_command"
    assert "quantity" in bad_quantity.json()["detail"]
    assert not_json.status_code == 400 and not_json.json()["code"] == "invalid_json"
    assert shop.records == {} and shop.left == 1
    assert commands("unknown", "malformed") - malformed == 2


def test_an_invoked_command_whose_handling_fails_is_a_server_error_to_ask_again() -> None:
    shop = Shop(left=1, fail=1)
    with TestClient(app_with_commands(shop), raise_server_exceptions=False) as client:
        failed = invoke(client, reserve(5).model_dump(mode="json"))
        again = invoke(client, reserve(5).model_dump(mode="json"))

    assert failed.status_code >= 500
    assert again.status_code == 200 and again.json()["ok"] is True
    assert shop.left == 0


def test_the_invocation_route_needs_the_app_token_and_stays_out_of_the_api_document() -> None:
    app = app_with_commands(Shop(left=1))
    require_app_token(app, "/shop", token="secret")
    with TestClient(app) as client:
        assert invoke(client, reserve(5).model_dump(mode="json")).status_code == 401
        assert f"/{COMMANDS_METHOD}" not in client.get("/shop/openapi.json").json()["paths"]
