"""The order saga's metrics: counted from what each write of the record changed, so a
re-run activity counts nothing twice. The series are process-wide: tests assert deltas."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from dapr_helpers.metrics import sample
from fastapi.testclient import TestClient
from order_app.adapters.idempotency import IdempotencyKeys
from order_app.adapters.repository import OrderRepository
from order_app.config import Settings
from order_app.domain import Order, OrderRequest, OrderStatus, RejectionReason, StepName, StepRecord
from order_app.main import create_app
from order_app.service.metrics import observe_change, step_outcome
from order_app.service.orders import OrderService, SagaUnavailable
from order_app.workflow.activities import SagaActivities
from order_app.workflow.messages import Outcome, SagaSnapshot
from prometheus_client.parser import text_string_to_metric_families
from saga_testkit.dapr import InMemoryStateStore, RecordingPublisher
from saga_testkit.fixtures import cloud_event
from saga_testkit.order import AnsweringParticipants, FakeDirectory, FakeSagas

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)
REQUEST = OrderRequest(
    login="ann", email="a@b.cd", product_id=1, quantity=1, amount=Decimal(5), dtime=NOW + timedelta(days=7)
)
STOCK, COURIER, CHARGE = StepName.RESERVE_STOCK, StepName.RESERVE_COURIER, StepName.CHARGE_PAYMENT


class Series:
    """Read the series before, then `delta()` says what changed since."""

    def __init__(self, *keys: tuple[str, dict[str, str]]) -> None:
        self.keys = keys
        self.before = [sample(name, labels) for name, labels in keys]

    def delta(self) -> list[float]:
        return [
            round(sample(n, labels) - b, 6) for (n, labels), b in zip(self.keys, self.before, strict=True)
        ]


def steps_count(step: StepName, outcome: str) -> tuple[str, dict[str, str]]:
    return "saga_step_duration_seconds_count", {"step": step.value, "outcome": outcome}


def steps_sum(step: StepName, outcome: str) -> tuple[str, dict[str, str]]:
    return "saga_step_duration_seconds_sum", {"step": step.value, "outcome": outcome}


def finished(status: str, reason: str) -> tuple[str, dict[str, str]]:
    return "saga_finished_total", {"status": status, "reason": reason}


def compensations(step: StepName) -> tuple[str, dict[str, str]]:
    return "saga_compensations_sent_total", {"step": step.value}


@pytest.fixture
async def saga() -> tuple[SagaActivities, OrderRepository]:
    orders = OrderRepository(InMemoryStateStore())
    await orders.add(Order.create(7, REQUEST, NOW))
    return SagaActivities(RecordingPublisher(), AnsweringParticipants(), orders), orders


def snapshot(at: datetime, *steps: StepRecord, outcome: Outcome | None = None) -> dict[str, Any]:
    return SagaSnapshot(order_id=7, at=at, steps=steps, outcome=outcome).model_dump(mode="json")


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


async def twice(activities: SagaActivities, data: dict[str, Any]) -> None:
    """As the engine may: the activity runs again after its write went through."""
    await activities.record_and_send(None, data)  # type: ignore[arg-type]
    await activities.record_and_send(None, data)  # type: ignore[arg-type]


async def test_a_rejected_saga_counts_its_answers_compensations_and_outcome_once(saga):
    activities, _ = saga
    series = Series(
        steps_count(STOCK, "refused"),
        steps_sum(STOCK, "refused"),
        steps_count(COURIER, "succeeded"),
        steps_sum(COURIER, "succeeded"),
        steps_count(CHARGE, "succeeded"),
        compensations(COURIER),
        compensations(STOCK),
        finished("rejected", "insufficient_stock"),
        ("saga_duration_seconds_count", {"status": "rejected"}),
        ("saga_duration_seconds_sum", {"status": "rejected"}),
    )
    stock, courier, charge = (StepRecord(name=n) for n in (STOCK, COURIER, CHARGE))
    stock, courier = stock.request(at(1)), courier.request(at(1))
    await twice(activities, snapshot(at(1), stock, courier, charge))

    # Both answered, and the courier's release sent, in one write; then a second round.
    stock = stock.refuse(at(1.5), "insufficient_stock", "none left")
    courier = courier.succeed(at(1.25)).compensation_sent(at(1.5))
    await twice(activities, snapshot(at(1.5), stock, courier, charge))
    courier = courier.compensation_sent(at(3.5))
    await twice(activities, snapshot(at(3.5), stock, courier, charge))

    courier = courier.compensate(at(4))
    rejected = Outcome(status=OrderStatus.REJECTED, reason=RejectionReason.INSUFFICIENT_STOCK, message="no")
    await twice(activities, snapshot(at(4), stock, courier, charge, outcome=rejected))

    assert series.delta() == [1, 0.5, 1, 0.25, 0, 2, 0, 1, 1, 4]


async def test_a_completed_saga_counts_each_step_once(saga):
    activities, _ = saga
    series = Series(
        steps_count(STOCK, "succeeded"),
        steps_count(COURIER, "succeeded"),
        steps_count(CHARGE, "succeeded"),
        steps_sum(CHARGE, "succeeded"),
        finished("completed", "none"),
        ("saga_started_total", {}),  # the workflow's activity starts nothing
    )
    stock, courier, charge = (StepRecord(name=n).request(at(1)) for n in (STOCK, COURIER, CHARGE))
    stock, courier = stock.succeed(at(2)), courier.succeed(at(2))
    await twice(activities, snapshot(at(2), stock, courier, StepRecord(name=CHARGE)))
    charge = StepRecord(name=CHARGE).request(at(2))
    await twice(activities, snapshot(at(2), stock, courier, charge))
    done = Outcome(status=OrderStatus.COMPLETED, message="ok")
    await twice(activities, snapshot(at(2.75), stock, courier, charge.succeed(at(2.75)), outcome=done))

    assert series.delta() == [1, 1, 1, 0.75, 1, 0]


async def test_an_outcome_that_could_not_be_recorded_counts_nothing(saga):
    activities, _ = saga
    series = Series(finished("completed", "none"), finished("rejected", "step_timeout"))
    done = Outcome(status=OrderStatus.COMPLETED, message="ok")
    await twice(activities, snapshot(at(1), outcome=done))
    late = Outcome(status=OrderStatus.REJECTED, reason=RejectionReason.STEP_TIMEOUT, message="late")
    with pytest.raises(Exception, match="already completed"):
        await activities.record_and_send(None, snapshot(at(2), outcome=late))
    assert series.delta() == [1, 0]


async def test_a_write_retried_on_conflict_counts_once(saga):
    activities, orders = saga
    series = Series(steps_count(STOCK, "timed_out"), compensations(STOCK))
    stock = StepRecord(name=STOCK).request(at(0))
    await activities.record_and_send(None, snapshot(at(0), stock))
    orders.store.forced_conflicts = 2
    stock = stock.time_out(at(3), "no reply").compensation_sent(at(3))
    await activities.record_and_send(None, snapshot(at(3), stock))
    assert series.delta() == [1, 1]


def test_a_step_is_labelled_by_how_it_was_answered_even_once_compensated() -> None:
    requested = StepRecord(name=STOCK).request(NOW)
    assert step_outcome(requested.succeed(NOW).compensation_sent(NOW).compensate(NOW)) == "succeeded"
    assert step_outcome(requested.time_out(NOW, "late").compensation_sent(NOW)) == "timed_out"
    assert step_outcome(requested.refuse(NOW, "insufficient_stock", "none")) == "refused"


def test_an_unchanged_record_counts_nothing() -> None:
    order = Order.create(8, REQUEST, NOW)
    final = order.reject(RejectionReason.STEP_TIMEOUT, "late", order.steps, at(1))
    series = Series(finished("rejected", "step_timeout"))
    observe_change(final, final)
    observe_change(order, final)
    assert series.delta() == [1]


# -- sagas started -------------------------------------------------------------------


def a_service(sagas: FakeSagas) -> OrderService:
    store = InMemoryStateStore()
    return OrderService(
        OrderRepository(store), IdempotencyKeys(store), FakeDirectory(), sagas, Settings(), clock=lambda: NOW
    )


async def test_a_saga_started_is_counted_but_not_an_idempotent_replay_nor_a_failed_start():
    series = Series(("saga_started_total", {}))
    service = a_service(FakeSagas())
    await service.place(REQUEST, "key-1")
    await service.place(REQUEST, "key-1")  # the same order back: no new saga
    await service.place(REQUEST, None)
    assert series.delta() == [2]

    failing = a_service(FakeSagas(start_fails=True))
    with pytest.raises(SagaUnavailable):
        await failing.place(REQUEST, None)
    assert series.delta() == [2]


# -- dead letters and the endpoint ---------------------------------------------------


@pytest.fixture
def http() -> Iterator[TestClient]:
    store = InMemoryStateStore()
    settings = Settings()
    service = OrderService(
        OrderRepository(store), IdempotencyKeys(store), FakeDirectory(), FakeSagas(), settings
    )
    with TestClient(create_app(settings, service=service)) as client:
        yield client


def test_dead_letters_are_counted_once_by_a_known_participant(http):
    route = http.get("/dapr/subscribe").json()[1]["route"]
    series = Series(
        ("saga_dead_letters_total", {"participant": "billing"}),
        ("saga_dead_letters_total", {"participant": "unknown"}),
    )
    reply = {"order_id": 1, "participant": "billing", "action": "charge", "ok": True}
    for event in (
        cloud_event(reply, "order-replies-dead") | {"id": "a"},
        cloud_event(reply, "order-replies-dead") | {"id": "a"},  # a redelivery
        cloud_event(reply | {"participant": "evil-" * 9}, "order-replies-dead") | {"id": "b"},
        cloud_event(reply | {"participant": ["x"]}, "order-replies-dead") | {"id": "c"},
        cloud_event("garbage", "order-replies-dead") | {"id": "d"},
    ):
        assert http.post(route, json=event).json() == {"status": "SUCCESS"}
    assert series.delta() == [1, 3]


def test_the_order_app_serves_its_saga_metrics(http):
    r = http.get("/metrics")
    assert r.status_code == 200
    names = {f.name for f in text_string_to_metric_families(r.text)}
    assert {
        "saga_started",
        "saga_finished",
        "saga_step_duration_seconds",
        "saga_duration_seconds",
        "saga_compensations_sent",
        "saga_dead_letters",
    } <= names
    assert "/metrics" not in http.get("/orders/openapi.json").json()["paths"]
