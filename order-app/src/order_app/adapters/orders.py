"""Orders in the Dapr state store `order-store`.

Keys: `order-{id}` (the record), `order-counter` (the last id handed out),
`login-orders-{login}` (that login's order ids, oldest first),
`idempotency-{sha256}` (an Idempotency-Key's request fingerprint and order id).
Every read-modify-write carries the ETag it read and is retried on conflict.
"""

import hashlib
from collections.abc import Callable
from typing import Any

from dapr_helpers.state import Delete, JsonStore, Operation, Upsert, checked_write, retry_on_conflict

from order_app.domain import Order, OrderNotFound

COUNTER = "order-counter"


def order_key(order_id: int) -> str:
    return f"order-{order_id}"


def login_key(login: str) -> str:
    return f"login-orders-{login}"


def idempotency_key(key: str) -> str:
    return f"idempotency-{hashlib.sha256(key.encode()).hexdigest()}"


class OrderRepository:
    def __init__(self, store: JsonStore) -> None:
        self.store = store

    async def next_id(self) -> int:
        async def increment() -> int:
            last, etag = await self.store.get_json(COUNTER)
            await self.store.transact([checked_write(COUNTER, (last or 0) + 1, etag)])
            return (last or 0) + 1

        return await retry_on_conflict(increment)

    async def add_new(self, login: str, build: Callable[[int], Order]) -> Order:
        """Number, store and index a new order in one read and one transaction.

        `build` makes the order from its id. The counter and the login's index
        are written checked against what was read, so concurrent orders never
        share an id and no index loses one.
        """
        key = login_key(login)

        async def add() -> Order:
            found = await self.store.bulk_get_json([COUNTER, key])
            (last, counter_etag), (ids, index_etag) = found[COUNTER], found[key]
            order = build((last or 0) + 1)
            await self.store.transact(
                [
                    checked_write(COUNTER, order.id, counter_etag),
                    Upsert(order_key(order.id), _dump(order)),
                    checked_write(key, [*(ids or []), order.id], index_etag),
                ]
            )
            return order

        return await retry_on_conflict(add)

    async def last_id(self) -> int:
        last, _ = await self.store.get_json(COUNTER)
        return last or 0

    async def add(self, order: Order) -> None:
        """The record and the login index, in one transaction."""
        key = login_key(order.login)

        async def add() -> None:
            ids, etag = await self.store.get_json(key)
            await self.store.transact(
                [
                    Upsert(order_key(order.id), _dump(order)),
                    checked_write(key, [*(ids or []), order.id], etag),
                ]
            )

        await retry_on_conflict(add)

    async def get(self, order_id: int) -> Order | None:
        data, _ = await self.store.get_json(order_key(order_id))
        return Order.model_validate(data) if data is not None else None

    async def get_many(self, ids: list[int]) -> list[Order]:
        found = await self.store.bulk_get_json([order_key(i) for i in ids])
        return [Order.model_validate(data) for data, _ in found.values() if data is not None]

    async def ids_for_login(self, login: str) -> list[int]:
        ids, _ = await self.store.get_json(login_key(login))
        return ids or []

    async def update(self, order_id: int, change: Callable[[Order], Order]) -> Order:
        """Apply `change` to the stored order under its ETag; raises OrderNotFound."""

        async def update() -> Order:
            data, etag = await self.store.get_json(order_key(order_id))
            if data is None:
                raise OrderNotFound(order_id)
            before = Order.model_validate(data)
            after = change(before)
            if after != before:
                await self.store.transact([Upsert(order_key(order_id), _dump(after), etag=etag)])
            return after

        return await retry_on_conflict(update)

    async def remove(self, order: Order) -> None:
        """Undo `add` (the saga could not be started); the id stays used."""

        async def remove() -> None:
            key = login_key(order.login)
            ids, etag = await self.store.get_json(key)
            ops: list[Operation] = [Delete(order_key(order.id))]
            if ids is not None:
                ops.append(Upsert(key, [i for i in ids if i != order.id], etag=etag))
            await self.store.transact(ops)

        await retry_on_conflict(remove)


def _dump(order: Order) -> dict[str, Any]:
    return order.model_dump(mode="json")
