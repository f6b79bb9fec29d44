"""Stock state on the Dapr state API: each read returns the ETag its write must carry.

The saga's path writes a product's counts, the order's reservation record and,
for a successful reserve, one entry of the product's reservations index, all in
one transaction; none of these records grows with the number of orders.
"""

from dataclasses import dataclass
from typing import Any

from dapr_helpers.index import ChunkedIndex, IndexHead, Page, head_from
from dapr_helpers.state import JsonStore, Operation, Upsert, checked_write

from stock_app.adapters.records import (
    SEQUENCE_KEY,
    index_entry,
    product_from_json,
    product_key,
    product_to_json,
    reservation_from_json,
    reservation_key,
    reservation_to_json,
    reservations_index,
    v1_reservations,
)
from stock_app.domain.product import Product
from stock_app.domain.reservation import OrderReservation

# An entry is ~40 bytes ({"order_id", "quantity"}): 32 of them keep a chunk, and the
# head's tail, near 1 KB, and under 4 KB even with 10-digit ids and quantities.
CHUNK_SIZE = 32


@dataclass
class StoredProduct:
    """A product as read, with what its next write must carry: its ETag, the head of its
    reservations index and, from a v1 record only, the reservations it embedded."""

    product: Product
    etag: str | None
    index: IndexHead
    v1_entries: list[dict[str, int]]

    def save(self, *reserved: OrderReservation) -> list[Operation]:
        """The product's write, appending `reserved` (successful reserves) to its index.

        A v1 record's reservations move into the index in the same write, before them."""
        product = self.product
        ops: list[Operation] = [Upsert(product_key(product.id), product_to_json(product), self.etag)]
        entries = self.v1_entries + [index_entry(r.order_id, r.quantity or 0) for r in reserved]
        if entries:
            ops += self.index.append(*entries)
        return ops


def _page_of(entries: list[Any], limit: int, before: int | None) -> Page:
    """`ChunkedIndex.page` over a list held in memory (oldest first)."""
    end = len(entries) if before is None else max(0, min(before, len(entries)))
    start = max(0, end - limit)
    return Page(entries[start:end][::-1], start if start > 0 else None, len(entries))


class StockRepository:
    def __init__(self, store: JsonStore) -> None:
        self.store = store
        self.index = ChunkedIndex(store, CHUNK_SIZE)

    async def sequence(self) -> tuple[int, str | None]:
        data, etag = await self.store.get_json(SEQUENCE_KEY)
        return (0 if data is None else data["last"]), etag

    def save_sequence(self, last: int, etag: str | None) -> Operation:
        return checked_write(SEQUENCE_KEY, {"last": last}, etag)

    async def product(self, product_id: int) -> Product | None:
        data, _ = await self.store.get_json(product_key(product_id))
        return None if data is None else product_from_json(data)

    async def products(self) -> list[Product]:
        data, _ = await self.store.get_json(SEQUENCE_KEY)
        last = 0 if data is None else data["last"]
        found = await self.store.bulk_get_json([product_key(i) for i in range(1, last + 1)])
        return [product_from_json(value) for value, _ in found.values() if value is not None]

    def new_product(self, product: Product) -> Upsert:
        """A registered product's first write (its id is guarded by the sequence's ETag)."""
        return Upsert(product_key(product.id), product_to_json(product))

    async def stored_product(self, product_id: int) -> StoredProduct | None:
        """The product and its index head, in one read, to write them back; None if it does not exist."""
        key, name = product_key(product_id), reservations_index(product_id)
        found = await self.store.bulk_get_json([key, name])
        return self._stored(found[key], name, found[name])

    def _stored(
        self, product: tuple[Any, str | None], name: str, head: tuple[Any, str | None]
    ) -> StoredProduct | None:
        data, etag = product
        if data is None:
            return None
        index = head_from(name, head[0], head[1], self.index.chunk_size)
        return StoredProduct(product_from_json(data), etag, index, v1_reservations(data))

    async def reservation(self, order_id: int) -> tuple[OrderReservation, str | None]:
        """The order's reservation with its ETag; empty, with none, if it is new."""
        data, etag = await self.store.get_json(reservation_key(order_id))
        return (OrderReservation(order_id) if data is None else reservation_from_json(data)), etag

    async def reservation_and_product(
        self, order_id: int, product_id: int
    ) -> tuple[tuple[OrderReservation, str | None], StoredProduct | None]:
        """What a reserve needs, in one read: the order's reservation (empty, with no
        ETag, if it is new) and the product it would take from (None if there is none)."""
        key, pkey, name = reservation_key(order_id), product_key(product_id), reservations_index(product_id)
        found = await self.store.bulk_get_json([key, pkey, name])
        data, etag = found[key]
        reservation = OrderReservation(order_id) if data is None else reservation_from_json(data)
        return (reservation, etag), self._stored(found[pkey], name, found[name])

    async def find_reservation(self, order_id: int) -> OrderReservation | None:
        data, _ = await self.store.get_json(reservation_key(order_id))
        return None if data is None else reservation_from_json(data)

    def save_reservation(self, reservation: OrderReservation, etag: str | None) -> Operation:
        return checked_write(reservation_key(reservation.order_id), reservation_to_json(reservation), etag)

    async def reservations(self, product_id: int, limit: int, before: int | None) -> Page | None:
        """A page of the orders that reserved units of the product, newest first, each as its
        reservation record says now (`reserved`, or `released` since); None if no such product."""
        data, _ = await self.store.get_json(product_key(product_id))
        if data is None:
            return None
        if v1 := v1_reservations(data):  # not written since v1: its index is still embedded
            page = _page_of(v1, limit, before)
        else:
            page = await self.index.page(reservations_index(product_id), limit, before)
        keys = [reservation_key(entry["order_id"]) for entry in page.entries]
        found = await self.store.bulk_get_json(keys)
        if missing := [k for k in keys if found[k][0] is None]:  # written with their entries
            raise LookupError(f"reservation records missing: {', '.join(missing)}")
        records = [reservation_from_json(found[k][0]) for k in keys]
        return Page(records, page.next_cursor, page.total)

    async def commit(self, *ops: Operation) -> None:
        """All or nothing; a stale ETag raises `ConcurrencyConflict`."""
        await self.store.transact(list(ops))
