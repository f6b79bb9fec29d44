"""Placing orders concurrently, on the in-memory store (every call yields, so tasks interleave)."""

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from dapr_helpers.state import ConcurrencyConflict, Operation
from order_app.adapters.idempotency import IdempotencyKeys
from order_app.adapters.repository import OrderRepository
from order_app.config import Settings
from order_app.domain import Order
from order_app.service.orders import IdempotencyKeyInFlight, OrderService
from saga_testkit.dapr import InMemoryStateStore
from saga_testkit.order import NOW, REQUEST, FakeDirectory, FakeSagas, a_service


class ConflictCountingStore(InMemoryStateStore):
    def __init__(self) -> None:
        super().__init__()
        self.conflicts = 0

    async def transact(self, ops: Sequence[Operation]) -> None:
        try:
            await super().transact(ops)
        except ConcurrencyConflict:
            self.conflicts += 1
            raise


async def test_concurrent_new_orders_take_turns_for_the_id_counter_instead_of_conflicting():
    """Each conflict is a wasted read and transaction; enough of them in a row was a 503."""
    store = ConflictCountingStore()
    orders = OrderRepository(store)

    made: list[Any] = await asyncio.gather(
        *(orders.add_new("ann", lambda i: Order.create(i, REQUEST, NOW)) for _ in range(20)),
        *(orders.next_id() for _ in range(5)),
    )

    assert sorted(o if isinstance(o, int) else o.id for o in made) == list(range(1, 26))
    assert store.conflicts == 0


async def test_concurrent_orders_get_distinct_ids_and_one_saga_each():
    service, sagas = a_service()

    placed = await asyncio.gather(*(service.place(REQUEST, None) for _ in range(10)))

    assert sorted(order.id for order, _ in placed) == list(range(1, 11))
    assert len(sagas.started) == 10
    assert len(await service.orders.ids_for_login("ann")) == 10


async def test_concurrent_retries_with_one_idempotency_key_start_one_saga():
    service, sagas = a_service()

    results = await asyncio.gather(
        *(service.place(REQUEST, "same") for _ in range(5)), return_exceptions=True
    )

    created = [r for r in results if isinstance(r, tuple) and r[1]]
    others = [r for r in results if not (isinstance(r, tuple) and r[1])]
    assert len(created) == 1
    assert len(sagas.started) == 1
    for other in others:  # a replay of the same order, or "still in flight, retry"
        assert isinstance(other, IdempotencyKeyInFlight) or other[0].id == created[0][0].id  # type: ignore[index]


class SidecarGone(InMemoryStateStore):
    """The store behind a sidecar that can go away (every call then fails)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def get_json(self, key: str) -> tuple[Any | None, str | None]:
        self._check()
        return await super().get_json(key)

    async def transact(self, ops: Sequence[Operation]) -> None:
        self._check()
        await super().transact(ops)

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("no sidecar")


async def test_a_retry_starts_the_saga_the_sidecar_lost_after_storing_the_order():
    """`make soak` (docs/soak.md): localdapr killed after an order was stored and before its
    saga started. Neither the start nor the removal of the record went through; the client's
    retry with the same Idempotency-Key got the pending order back, whose saga never ran."""
    store, sagas = SidecarGone(), FakeSagas()
    service = OrderService(
        OrderRepository(store), IdempotencyKeys(store), FakeDirectory(), sagas, Settings(), clock=lambda: NOW
    )
    store_add = service.orders.add

    async def add_then_lose_the_sidecar(order: Order) -> None:
        await store_add(order)
        store.down = sagas.start_fails = sagas.engine_down = True

    service.orders.add = add_then_lose_the_sidecar  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):  # a 5xx for the client, who retries
        await service.place(REQUEST, "key-1")
    assert sagas.started == []
    store.down = sagas.start_fails = sagas.engine_down = False
    service.orders.add = store_add  # type: ignore[method-assign]

    order, created = await service.place(REQUEST, "key-1")

    assert not created and order.status == "pending"
    assert [s.order_id for s in sagas.started] == [order.id]
    again, _ = await service.place(REQUEST, "key-1")  # a second retry starts nothing more
    assert again.id == order.id and len(sagas.started) == 1
