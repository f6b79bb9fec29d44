"""A saga whose engine state is lost is replaced from the order record (service/recovery.py)."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from dapr_helpers.client import DaprHttpError
from order_app.adapters.sagas import state_lost
from order_app.domain import Order, OrderStatus, RejectionReason, StepName, StepState
from order_app.service.orders import OrderService
from order_app.service.recovery import MAX_GENERATIONS, SagaRecovery, StalledSagaSweep
from order_app.workflow.messages import Resume, instance_id
from saga_testkit.order import NOW, REQUEST, FakeSagas, a_service

LATER = datetime(2030, 1, 1, 0, 5, tzinfo=UTC)


async def placed(service: OrderService, *requested: StepName) -> Order:
    """An order whose saga recorded `requested` as sent, as its first activity does."""
    order, _ = await service.place(REQUEST, None)
    if requested:
        steps = tuple(s.request(NOW) if s.name in requested else s for s in order.steps)
        order = await service.orders.update(order.id, lambda o: o.record_steps(steps, NOW))
    return order


def recovery_of(service: OrderService) -> SagaRecovery:
    return SagaRecovery(service.orders, service.sagas, service.saga_input, confirm_seconds=0)


def test_only_daprds_words_for_a_lost_state_count_as_one():
    assert state_lost(FakeSagas._lost("order-1"))
    assert not state_lost(DaprHttpError(500, "ERR_RAISE_EVENT_WORKFLOW", "did not find address for actor"))
    assert not state_lost(ConnectionError("declared in metadata but missing from state store"))


def test_the_replacement_has_its_own_instance_id():
    assert [instance_id(7, g) for g in range(3)] == ["order-7", "order-7-r1", "order-7-r2"]


async def test_a_reply_to_a_lost_saga_starts_its_replacement_from_the_record_then_reaches_it():
    service, sagas = a_service()
    order = await placed(service, StepName.RESERVE_STOCK, StepName.RESERVE_COURIER)
    sagas.lost_instances.add(instance_id(order.id))

    await recovery_of(service).raise_event(order.id, "stock.reserve", {"ok": True})

    original, replacement = sagas.started
    assert replacement.instance_id == f"order-{order.id}-r1"
    assert replacement.model_dump(exclude={"generation", "resume"}) == original.model_dump(
        exclude={"generation", "resume"}
    )
    # Both reservations may have taken effect: both are compensated, then the order is rejected.
    assert replacement.resume is not None
    assert {s.name: s.state for s in replacement.resume.steps} == {
        StepName.RESERVE_STOCK: StepState.TIMED_OUT,
        StepName.RESERVE_COURIER: StepState.TIMED_OUT,
        StepName.CHARGE_PAYMENT: StepState.NOT_STARTED,
    }
    assert replacement.resume.outcome is None
    assert sagas.events == [(order.id, "stock.reserve", {"ok": True})]  # raised on the replacement


async def test_later_replies_go_to_the_replacement_without_starting_another():
    service, sagas = a_service()
    order = await placed(service, StepName.RESERVE_STOCK, StepName.RESERVE_COURIER)
    sagas.lost_instances.add(instance_id(order.id))
    recovery = recovery_of(service)

    await recovery.raise_event(order.id, "stock.reserve", {})
    await recovery.raise_event(order.id, "delivery.reserve", {})

    assert [s.instance_id for s in sagas.started] == [f"order-{order.id}", f"order-{order.id}-r1"]
    assert [name for _, name, _ in sagas.events] == ["stock.reserve", "delivery.reserve"]


async def test_a_saga_lost_before_it_sent_anything_starts_again_from_the_beginning():
    service, sagas = a_service()
    order = await placed(service)
    sagas.lost_instances.add(instance_id(order.id))

    await recovery_of(service).raise_event(order.id, "stock.reserve", {})

    assert sagas.started[-1].generation == 1
    assert sagas.started[-1].resume is None


async def test_a_lost_replacement_is_replaced_in_turn():
    service, sagas = a_service()
    order = await placed(service, StepName.RESERVE_STOCK)
    sagas.lost_instances.update({instance_id(order.id), instance_id(order.id, 1)})
    sagas.started.append(service.saga_input(order).model_copy(update={"generation": 1}))

    await recovery_of(service).raise_event(order.id, "stock.reserve", {})

    assert sagas.started[-1].instance_id == f"order-{order.id}-r2"


async def test_a_final_order_needs_no_replacement_and_its_reply_is_acknowledged():
    service, sagas = a_service()
    order = await placed(service, StepName.RESERVE_STOCK)
    reason = RejectionReason.STEP_TIMEOUT
    await service.orders.update(order.id, lambda o: o.reject(reason, "Rejected.", o.steps, LATER))
    sagas.lost_instances.add(instance_id(order.id))

    await recovery_of(service).raise_event(order.id, "stock.release", {})

    assert len(sagas.started) == 1 and sagas.events == []


async def test_other_errors_are_not_taken_for_a_lost_state():
    service, sagas = a_service()
    order = await placed(service, StepName.RESERVE_STOCK)
    sagas.engine_down = True

    with pytest.raises(ConnectionError):
        await recovery_of(service).raise_event(order.id, "stock.reserve", {})
    assert len(sagas.started) == 1


async def test_it_gives_up_after_a_bounded_number_of_generations():
    service, sagas = a_service()
    order = await placed(service, StepName.RESERVE_STOCK)
    sagas.lost_instances.update(instance_id(order.id, g) for g in range(MAX_GENERATIONS + 1))

    with pytest.raises(RuntimeError, match="in a row"):
        await recovery_of(service).raise_event(order.id, "stock.reserve", {})


def test_a_step_awaiting_its_reply_is_compensated_and_the_rest_kept():
    order = Order.create(1, REQUEST, NOW)
    stock, courier, charge = order.steps
    steps = (stock.request(NOW).succeed(NOW), courier.request(NOW).succeed(NOW), charge.request(NOW))

    resume = Resume.after_lost_state(steps, LATER)

    assert resume is not None
    assert [s.state for s in resume.steps] == [StepState.SUCCEEDED, StepState.SUCCEEDED, StepState.TIMED_OUT]
    assert resume.steps[2].answered_at == LATER and resume.attempt == 1
    assert Resume.after_lost_state(order.steps, LATER) is None
    assert order.status is OrderStatus.PENDING


def a_sweep(service: OrderService, now: datetime) -> StalledSagaSweep:
    minute = timedelta(seconds=60)
    return StalledSagaSweep(recovery_of(service), service.orders, 60, minute, clock=lambda: now)


async def test_the_sweep_replaces_a_quiet_lost_saga_that_no_reply_will_reach():
    service, sagas = a_service()
    healthy = await placed(service, StepName.RESERVE_STOCK)
    lost = await placed(service, StepName.RESERVE_STOCK, StepName.RESERVE_COURIER)
    sagas.lost_instances.add(instance_id(lost.id))

    assert await a_sweep(service, NOW + timedelta(seconds=30)).sweep() == []  # not quiet long enough
    assert await a_sweep(service, LATER).sweep() == [lost.id]

    started = [s.instance_id for s in sagas.started]
    assert started == [f"order-{healthy.id}", f"order-{lost.id}", f"order-{lost.id}-r1"]


async def test_the_sweep_reads_each_new_order_once_then_only_the_pending_ones():
    service, sagas = a_service()
    done = await placed(service, StepName.RESERVE_STOCK)
    reason = RejectionReason.STEP_TIMEOUT
    await service.orders.update(done.id, lambda o: o.reject(reason, "Rejected.", o.steps, NOW))
    waiting = await placed(service, StepName.RESERVE_STOCK)
    sweep = a_sweep(service, LATER)

    await sweep.sweep()
    assert (sweep.read_up_to, sweep.pending) == (waiting.id, {waiting.id})

    later = await placed(service, StepName.RESERVE_STOCK)
    sagas.lost_instances.add(instance_id(later.id))
    assert await sweep.sweep() == [later.id]
    assert sweep.pending == {waiting.id, later.id}


async def test_a_saga_that_answers_again_is_left_alone():
    """A passing store error looks the same for a moment; the second look tells them apart."""
    service, sagas = a_service()
    order = await placed(service, StepName.RESERVE_STOCK)
    sagas.lost_instances.add(instance_id(order.id))
    recovery = SagaRecovery(service.orders, sagas, service.saga_input, confirm_seconds=0.01)

    async def store_back() -> None:
        await asyncio.sleep(0)
        sagas.lost_instances.clear()

    replaced, _ = await asyncio.gather(recovery.revive(order), store_back())

    assert replaced is False and len(sagas.started) == 1
