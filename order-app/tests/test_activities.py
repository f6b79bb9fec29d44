"""The saga's activity against in-memory fakes of the store, the participants and the publisher."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from dapr.ext.workflow._durabletask.task import NonRetryableError
from order_app.adapters.repository import OrderRepository
from order_app.domain import Order, OrderRequest, OrderStatus, RejectionReason, StepName, StepRecord
from order_app.workflow.activities import SagaActivities
from order_app.workflow.messages import Answer, Command, Outcome, SagaSnapshot
from saga_testkit.dapr import InMemoryStateStore, RecordingPublisher
from saga_testkit.order import AnsweringParticipants

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)


@pytest.fixture
async def setup():
    store, publisher = InMemoryStateStore(), RecordingPublisher()
    orders = OrderRepository(store)
    request = OrderRequest(
        login="ann", email="a@b.cd", product_id=1, quantity=1, amount=Decimal(5), dtime=NOW
    )
    await orders.add(Order.create(7, request, NOW))
    return SagaActivities(publisher, AnsweringParticipants(), orders), orders, publisher


def snapshot(
    outcome: Outcome | None = None,
    order_id: int = 7,
    commands: tuple[Command, ...] = (),
    requests: tuple[Command, ...] = (),
) -> dict:
    steps = (StepRecord(name=StepName.RESERVE_STOCK).request(NOW),)
    return SagaSnapshot(
        order_id=order_id, at=NOW, steps=steps, outcome=outcome, commands=commands, requests=requests
    ).model_dump(mode="json")


class WatchingParticipants(AnsweringParticipants):
    """Notes the order's step as each request is asked."""

    def __init__(self, orders: OrderRepository, silent: tuple[str, ...] = ()) -> None:
        super().__init__(silent)
        self.orders = orders
        self.seen: list[str] = []

    async def ask(self, command: Command, within: timedelta) -> Answer:
        order = await self.orders.get(command.body["order_id"])
        self.seen.append(order.steps[0].state if order else "no record")
        return await super().ask(command, within)


class OrderWatchingPublisher(RecordingPublisher):
    """Notes the order's status as each command goes out."""

    def __init__(self, orders: OrderRepository) -> None:
        super().__init__()
        self.orders = orders
        self.seen: list[str] = []

    async def publish(self, topic: str, data: Any) -> None:
        self.seen.append((await self.orders.get(7)).steps[0].state)  # type: ignore[union-attr]
        await super().publish(topic, data)


async def test_saves_the_steps_then_asks_each_request_of_its_participant_and_returns_the_answers(setup):
    _, orders, publisher = setup
    participants = WatchingParticipants(orders, silent=("delivery",))
    activities = SagaActivities(publisher, participants, orders)
    stock = {"order_id": 7, "action": "reserve", "attempt": 1, "product_id": 1, "quantity": 1}
    courier = {"order_id": 7, "action": "reserve", "attempt": 1, "slot_start": "2030-01-08T10:00:00+00:00"}
    requests = (Command(participant="stock", body=stock), Command(participant="delivery", body=courier))

    answers = await activities.record_and_send(None, snapshot(requests=requests))  # type: ignore[arg-type]

    within = SagaSnapshot.model_fields["answer_within"].default
    assert participants.asked == [("stock", stock, within), ("delivery", courier, within)]
    assert participants.seen == ["requested", "requested"]  # no answer can beat the record
    assert [answer["reply"] and answer["reply"]["ok"] for answer in answers] == [True, None]
    assert answers[1]["error"] == "delivery did not answer in 0:00:30"
    assert publisher.published == []


async def test_publishes_each_compensation_to_its_participants_topic(setup):
    _, orders, _ = setup
    publisher = OrderWatchingPublisher(orders)
    activities = SagaActivities(publisher, AnsweringParticipants(), orders)
    release = {"order_id": 7, "action": "release", "attempt": 1}
    commands = (
        Command(participant="stock", body=release, undoes=True),
        Command(participant="delivery", body=release, undoes=True),
    )

    answers = await activities.record_and_send(None, snapshot(commands=commands))  # type: ignore[arg-type]

    assert answers == []
    assert sorted(publisher.published) == [("delivery-commands", release), ("stock-commands", release)]
    assert publisher.seen == ["requested", "requested"]  # no acknowledgement can beat the record


async def test_a_failed_publish_fails_the_activity_so_it_is_retried(setup):
    activities, _, publisher = setup
    publisher.failures = 1
    body = {"order_id": 7, "action": "release", "attempt": 1}

    with pytest.raises(ConnectionError):
        await activities.record_and_send(None, snapshot(commands=(Command(participant="stock", body=body),)))
    await activities.record_and_send(None, snapshot(commands=(Command(participant="stock", body=body),)))

    assert publisher.published == [("stock-commands", body)]


async def test_records_progress_then_the_outcome_on_the_order(setup):
    activities, orders, _ = setup

    await activities.record_and_send(None, snapshot())
    assert (await orders.get(7)).steps[0].state == "requested"

    rejected = Outcome(status=OrderStatus.REJECTED, reason=RejectionReason.STEP_TIMEOUT, message="late")
    await activities.record_and_send(None, snapshot(rejected))
    await activities.record_and_send(None, snapshot(rejected))  # run twice: harmless

    order = await orders.get(7)
    assert (order.status, order.reason, order.message) == ("rejected", "step_timeout", "late")


async def test_says_so_once_an_outcome_is_recorded_not_before(setup):
    _, orders, publisher = setup
    finals: list[int] = []
    activities = SagaActivities(publisher, AnsweringParticipants(), orders, on_final=finals.append)

    await activities.record_and_send(None, snapshot())  # type: ignore[arg-type]
    assert finals == []
    await activities.record_and_send(None, snapshot(Outcome(status=OrderStatus.COMPLETED, message="ok")))  # type: ignore[arg-type]
    assert finals == [7]


async def test_recording_for_a_missing_order_is_not_retried(setup):
    activities, _, _ = setup

    with pytest.raises(NonRetryableError):
        await activities.record_and_send(None, snapshot(order_id=99))


async def test_a_second_different_outcome_is_not_retried(setup):
    activities, _, _ = setup
    await activities.record_and_send(None, snapshot(Outcome(status=OrderStatus.COMPLETED, message="ok")))

    late = Outcome(status=OrderStatus.REJECTED, reason=RejectionReason.STEP_TIMEOUT, message="late")
    with pytest.raises(NonRetryableError):
        await activities.record_and_send(None, snapshot(late))


async def test_a_write_conflict_is_retried_inside_the_activity(setup):
    activities, orders, _ = setup
    orders.store.forced_conflicts = 2

    await activities.record_and_send(None, snapshot())

    assert (await orders.get(7)).steps[0].state == "requested"


async def test_a_missing_record_stops_forward_commands_but_never_compensations(setup):
    _, orders, publisher = setup
    participants = AnsweringParticipants()
    activities = SagaActivities(publisher, participants, orders)
    reserve = Command(participant="stock", body={"order_id": 99, "action": "reserve", "attempt": 1})
    release = Command(
        participant="stock", body={"order_id": 99, "action": "release", "attempt": 1}, undoes=True
    )

    with pytest.raises(NonRetryableError):
        await activities.record_and_send(None, snapshot(order_id=99, requests=(reserve,)))  # type: ignore[arg-type]
    await activities.record_and_send(None, snapshot(order_id=99, commands=(release,)))  # type: ignore[arg-type]

    assert participants.asked == []
    assert publisher.published == [("stock-commands", release.body)]
