"""Orders in the Dapr state store `order-store`.

Keys: `order-{id}` (the record), `order-counter` (the last id handed out),
`login-orders-{login}` (that login's order ids, oldest first: a ChunkedIndex, so
the head `{"count", "tail"}` and sealed chunks `login-orders-{login}/{n}`),
`idempotency-{sha256}` (an Idempotency-Key's request fingerprint and order id).
Every read-modify-write carries the ETag it read and is retried on conflict.

The v1 index was one plain JSON list at the head's key, rewritten whole on
every order. It is read as a head whose tail holds every id, and written in the
chunked shape by the login's next order (`append_id`): no one-off migration.
"""

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from dapr_helpers.index import DEFAULT_CHUNK, ChunkedIndex, IndexHead, Page, head_from
from dapr_helpers.state import Delete, JsonStore, Operation, Upsert, checked_write, retry_on_conflict

from order_app.domain import Order, OrderNotFound

COUNTER = "order-counter"


def order_key(order_id: int) -> str:
    return f"order-{order_id}"


def login_key(login: str) -> str:
    return f"login-orders-{login}"


def idempotency_key(key: str) -> str:
    return f"idempotency-{hashlib.sha256(key.encode()).hexdigest()}"


def login_head(key: str, data: Any, etag: str | None, chunk_size: int = DEFAULT_CHUNK) -> IndexHead:
    """The login index's head as read at `key`; a v1 list reads as a head whose tail holds every id."""
    if isinstance(data, list):
        return IndexHead(key, chunk_size, len(data), list(data), etag)
    return head_from(key, data, etag, chunk_size)


def append_id(head: IndexHead, order_id: int) -> list[Operation]:
    """The writes that append `order_id`; a v1 list too long for one chunk is cut into chunks now."""
    if len(head.tail) >= head.chunk_size:  # only a v1 list: a chunked head's tail is always shorter
        return replace(head, count=0, tail=[]).append(*head.tail, order_id)
    return head.append(order_id)


class LoginIndex(ChunkedIndex):
    """A login's order ids: a ChunkedIndex that also reads the v1 list."""

    async def head(self, name: str) -> IndexHead:
        data, etag = await self.store.get_json(name)
        return login_head(name, data, etag, self.chunk_size)

    async def newest(self, name: str, limit: int, offset: int) -> Page:
        """Up to `limit` ids after the `offset` newest, newest first: the head and the chunks in reach."""
        head = await self.head(name)
        # offset from the newest is position `before` from the oldest
        return await self.page_of(head, limit, max(0, head.count - offset))


class OrderRepository:
    def __init__(self, store: JsonStore, chunk_size: int = DEFAULT_CHUNK) -> None:
        self.store = store
        self.index = LoginIndex(store, chunk_size)
        # Every new order writes the one id counter. Its checked write keeps replicas
        # apart; in one process, new orders take turns instead: concurrent requests
        # would otherwise conflict on it in a storm of retries, each retry a wasted
        # read and transaction, until some gave up with a 503 under load.
        self._numbering = asyncio.Lock()

    async def next_id(self) -> int:
        async def increment() -> int:
            last, etag = await self.store.get_json(COUNTER)
            await self.store.transact([checked_write(COUNTER, (last or 0) + 1, etag)])
            return (last or 0) + 1

        async with self._numbering:
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
            (last, counter_etag), (head, head_etag) = found[COUNTER], found[key]
            order = build((last or 0) + 1)
            await self.store.transact(
                [
                    checked_write(COUNTER, order.id, counter_etag),
                    Upsert(order_key(order.id), _dump(order)),
                    *append_id(login_head(key, head, head_etag, self.index.chunk_size), order.id),
                ]
            )
            return order

        async with self._numbering:
            return await retry_on_conflict(add)

    async def last_id(self) -> int:
        last, _ = await self.store.get_json(COUNTER)
        return last or 0

    async def add(self, order: Order) -> None:
        """The record and the login index, in one transaction."""
        key = login_key(order.login)

        async def add() -> None:
            head = await self.index.head(key)
            await self.store.transact([Upsert(order_key(order.id), _dump(order)), *append_id(head, order.id)])

        await retry_on_conflict(add)

    async def get(self, order_id: int) -> Order | None:
        data, _ = await self.store.get_json(order_key(order_id))
        return Order.model_validate(data) if data is not None else None

    async def get_many(self, ids: list[int]) -> list[Order]:
        found = await self.store.bulk_get_json([order_key(i) for i in ids])
        return [Order.model_validate(data) for data, _ in found.values() if data is not None]

    async def ids_for_login(self, login: str) -> list[int]:
        """Every id, oldest first: for tests and audits, never on a request's path."""
        return await self.index.all(login_key(login))

    async def login_page(self, login: str, limit: int, offset: int) -> Page:
        """Up to `limit` of the login's order ids, newest first, after skipping the `offset` newest."""
        return await self.index.newest(login_key(login), limit, offset)

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
        """Undo `add` (the saga could not be started); the id stays used.

        The id leaves the index if it is still in the head's tail. If its append
        sealed a chunk (once in `chunk_size`), the sealed chunk keeps it: listings
        skip an id whose record is gone, and only `total` counts it.
        """

        async def remove() -> None:
            head = await self.index.head(login_key(order.login))
            ops: list[Operation] = [Delete(order_key(order.id))]
            if order.id in head.tail:
                tail = [i for i in head.tail if i != order.id]
                # appending nothing to the shortened head is the head's checked write
                ops += replace(head, count=head.count - len(head.tail) + len(tail), tail=tail).append()
            await self.store.transact(ops)

        await retry_on_conflict(remove)


def _dump(order: Order) -> dict[str, Any]:
    return order.model_dump(mode="json")
