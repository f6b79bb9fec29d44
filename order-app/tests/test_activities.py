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
    if_granted: Outcome | None = None,
) -> dict:
    steps = (StepRecord(name=StepName.RESERVE_STOCK).request(NOW),)
    return SagaSnapshot(
        order_id=order_id,
        at=NOW,
        steps=steps,
        outcome=outcome,
        commands=commands,
        requests=requests,
        if_granted=if_granted,
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

    result = await activities.record_and_send(None, snapshot(requests=requests))  # type: ignore[arg-type]

    answers, recorded = result["answers"], result["outcome"]
    within = SagaSnapshot.model_fields["answer_within"].default
    assert participants.asked == [("stock", stock, within), ("delivery", courier, within)]
    assert participants.seen == ["requested", "requested"]  # no answer can beat the record
    assert [answer["reply"] and answer["reply"]["ok"] for answer in answers] == [True, None]
    assert answers[1]["error"] == "delivery did not answer in 0:00:30"
    assert publisher.published == []
    assert not recorded  # no outcome was asked to be recorded


async def test_publishes_each_compensation_to_its_participants_topic(setup):
    _, orders, _ = setup
    publisher = OrderWatchingPublisher(orders)
    activities = SagaActivities(publisher, AnsweringParticipants(), orders)
    release = {"order_id": 7, "action": "release", "attempt": 1}
    commands = (
        Command(participant="stock", body=release, undoes=True),
        Command(participant="delivery", body=release, undoes=True),
    )

    result = await activities.record_and_send(None, snapshot(commands=commands))  # type: ignore[arg-type]

    assert result == {"answers": [], "outcome": None}
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


COMPLETED = Outcome(status=OrderStatus.COMPLETED, message="The order is completed.")
RESERVE = Command(participant="stock", body={"order_id": 7, "action": "reserve", "attempt": 1})


async def test_a_granted_request_records_the_outcome_it_decides_with_the_answer(setup):
    _, orders, publisher = setup
    finals: list[int] = []
    participants = AnsweringParticipants()
    activities = SagaActivities(publisher, participants, orders, on_final=finals.append)

    result = await activities.record_and_send(None, snapshot(requests=(RESERVE,), if_granted=COMPLETED))  # type: ignore[arg-type]

    assert result["outcome"] == COMPLETED.model_dump(mode="json")
    assert result["answers"][0]["reply"]["ok"] is True
    order = await orders.get(7)
    assert (order.status, order.message, order.steps[0].state) == (
        "completed",
        COMPLETED.message,
        "succeeded",
    )
    assert order.steps[0].answered_at is not None
    assert finals == [7]  # the order's waiters are woken with it


async def test_an_unanswered_request_records_no_outcome(setup):
    _, orders, publisher = setup
    activities = SagaActivities(publisher, AnsweringParticipants(silent=("stock",)), orders)

    result = await activities.record_and_send(None, snapshot(requests=(RESERVE,), if_granted=COMPLETED))  # type: ignore[arg-type]

    assert result["outcome"] is None
    assert result["answers"][0]["reply"] is None
    order = await orders.get(7)
    assert (order.status, order.steps[0].state) == ("pending", "requested")


class StoreGoneWhileAsked(AnsweringParticipants):
    """Answers, and the order store goes away meanwhile."""

    def __init__(self, store: InMemoryStateStore) -> None:
        super().__init__()
        self.store = store

    async def ask(self, command: Command, within: timedelta) -> Answer:
        async def gone(ops: Any) -> None:
            raise ConnectionError("the state store is unreachable")

        self.store.transact = gone  # type: ignore[method-assign]
        return await super().ask(command, within)


async def test_answers_are_returned_even_if_the_outcome_they_decide_cannot_be_recorded(setup):
    _, orders, publisher = setup
    activities = SagaActivities(publisher, StoreGoneWhileAsked(orders.store), orders)

    result = await activities.record_and_send(None, snapshot(requests=(RESERVE,), if_granted=COMPLETED))  # type: ignore[arg-type]

    # The grant is not lost with the write: the saga records the outcome itself.
    assert result["outcome"] is None
    assert result["answers"][0]["reply"]["ok"] is True
    assert (await orders.get(7)).status == "pending"


async def test_the_deciding_activity_run_again_after_it_recorded_is_harmless(setup):
    _, orders, publisher = setup
    participants = AnsweringParticipants()
    activities = SagaActivities(publisher, participants, orders)
    data = snapshot(requests=(RESERVE,), if_granted=COMPLETED)

    first = await activities.record_and_send(None, data)  # type: ignore[arg-type]
    recorded = await orders.get(7)
    again = await activities.record_and_send(None, data)  # type: ignore[arg-type]

    assert first == again and again["outcome"] == COMPLETED.model_dump(mode="json")
    assert len(participants.asked) == 2  # asked again: a duplicate, answered the same
    assert await orders.get(7) == recorded  # the completed record is left as it was


RELEASE = Command(participant="stock", body={"order_id": 7, "action": "release", "attempt": 1}, undoes=True)


async def test_compensations_for_an_order_found_completed_are_not_sent(setup):
    # A run of the pivot's activity recorded its grant, and its answer never reached the
    # saga, which took the step for unanswered and came to undo it.
    activities, orders, publisher = setup
    await activities.record_and_send(None, snapshot(requests=(RESERVE,), if_granted=COMPLETED))
    completed = await orders.get(7)

    result = await activities.record_and_send(None, snapshot(commands=(RELEASE,)))

    assert result == {"answers": [], "outcome": COMPLETED.model_dump(mode="json")}
    assert publisher.published == []
    assert await orders.get(7) == completed


async def test_a_grant_that_comes_after_the_saga_moved_on_records_nothing(setup):
    # Two runs of the pivot's activity: the saga took the first one's step for unanswered
    # and is undoing it when a late one gets its grant.
    _, orders, publisher = setup
    asking = snapshot(requests=(RESERVE,), if_granted=COMPLETED)
    undoing = SagaSnapshot.model_validate(asking)
    steps = tuple(step.time_out(NOW, "no answer").compensation_sent(NOW) for step in undoing.steps)

    class UndoneMeanwhile(AnsweringParticipants):
        async def ask(self, command: Command, within: timedelta) -> Answer:
            await orders.update(7, lambda o: o.record_steps(steps, NOW))  # the saga's compensating write
            return await super().ask(command, within)

    activities = SagaActivities(publisher, UndoneMeanwhile(), orders)
    result = await activities.record_and_send(None, asking)  # type: ignore[arg-type]

    assert result["outcome"] is None  # the saga goes on undoing: the refund meets the charge
    order = await orders.get(7)
    assert (order.status, order.steps) == ("pending", steps)


async def test_a_late_runs_first_write_leaves_the_steps_the_saga_moved_on_to(setup):
    _, orders, publisher = setup
    asking = snapshot(requests=(RESERVE,), if_granted=COMPLETED)
    steps = tuple(
        s.time_out(NOW, "x").compensation_sent(NOW) for s in SagaSnapshot.model_validate(asking).steps
    )
    await orders.update(7, lambda o: o.record_steps(steps, NOW))
    activities = SagaActivities(publisher, AnsweringParticipants(), orders)

    result = await activities.record_and_send(None, asking)  # type: ignore[arg-type]

    assert result["outcome"] is None
    assert (await orders.get(7)).steps == steps
