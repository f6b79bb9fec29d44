"""Stock state on the Dapr state API.

`StockRepository` answers the API's reads. A `StockUnit`, one per attempt of a
write, reads what a command decides on with the ETags its writes must carry, and
commits the command's changes in one transaction. The saga's path writes a
product's counts, the order's reservation record and, for a successful reserve,
one entry of the product's reservations index; none of these records grows with
the number of orders.
"""

from typing import Any, cast

from dapr_helpers.index import ChunkedIndex, Page, page_in_memory
from dapr_helpers.state import JsonStore
from dapr_helpers.unit_of_work import UnitOfWork

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


class StockRepository:
    def __init__(self, store: JsonStore) -> None:
        self.store = store
        self.index = ChunkedIndex(store, CHUNK_SIZE)

    def unit(self) -> "StockUnit":
        return StockUnit(self.store)

    async def product(self, product_id: int) -> Product | None:
        data, _ = await self.store.get_json(product_key(product_id))
        return None if data is None else product_from_json(data)

    async def products(self) -> list[Product]:
        data, _ = await self.store.get_json(SEQUENCE_KEY)
        last = 0 if data is None else data["last"]
        found = await self.store.bulk_get_json([product_key(i) for i in range(1, last + 1)])
        return [product_from_json(value) for value, _ in found.values() if value is not None]

    async def find_reservation(self, order_id: int) -> OrderReservation | None:
        data, _ = await self.store.get_json(reservation_key(order_id))
        return None if data is None else reservation_from_json(data)

    async def reservations(self, product_id: int, limit: int, before: int | None) -> Page | None:
        """A page of the orders that reserved units of the product, newest first, each as its
        reservation record says now (`reserved`, or `released` since); None if no such product."""
        data, _ = await self.store.get_json(product_key(product_id))
        if data is None:
            return None
        if v1 := v1_reservations(data):  # not written since v1: its index is still embedded
            page = page_in_memory(v1, limit, before)
        else:
            page = await self.index.page(reservations_index(product_id), limit, before)
        keys = [reservation_key(entry["order_id"]) for entry in page.entries]
        found = await self.store.bulk_get_json(keys)
        if missing := [k for k in keys if found[k][0] is None]:  # written with their entries
            raise LookupError(f"reservation records missing: {', '.join(missing)}")
        records = [reservation_from_json(cast(dict[str, Any], found[k][0])) for k in keys]
        return Page(records, page.next_cursor, page.total)


class StockUnit(UnitOfWork):
    """Stock's records for one read-decide-write. A product is read with the head of its
    reservations index, to which the product's write appends."""

    async def reservation_and_product(
        self, order_id: int, product_id: int
    ) -> tuple[OrderReservation, Product | None]:
        """What a reserve needs, in one read: the order's reservation (a new one if it has
        none) and the product it would take from (None if there is none)."""
        key, pkey = reservation_key(order_id), product_key(product_id)
        found = await self.get_many([key, pkey, reservations_index(product_id)])
        return _reservation(order_id, found[key]), _product(found[pkey])

    async def reservation(self, order_id: int) -> OrderReservation:
        """The order's reservation; a new one if it has none."""
        return _reservation(order_id, await self.get(reservation_key(order_id)))

    async def product(self, product_id: int) -> Product | None:
        """The product (None if there is none) and its index head, in one read."""
        key = product_key(product_id)
        return _product((await self.get_many([key, reservations_index(product_id)]))[key])

    async def last_product_id(self) -> int:
        data = await self.get(SEQUENCE_KEY)
        return 0 if data is None else data["last"]

    def register(self, product: Product) -> None:
        """A new product and the counter its id came from, whose checked write guards the id."""
        self.put(SEQUENCE_KEY, {"last": product.id})
        self.overwrite(product_key(product.id), product_to_json(product))

    def save_reservation(self, reservation: OrderReservation) -> None:
        self.put(reservation_key(reservation.order_id), reservation_to_json(reservation))

    def save_product(self, product: Product, *reserved: OrderReservation) -> None:
        """The product's write, appending `reserved` (successful reserves) to its index.

        A v1 record's reservations move into the index in the same write, before them."""
        key = product_key(product.id)
        # [] for a v2 record, or one this unit wrote; the unit read the product, so it is there
        v1 = v1_reservations(cast(dict[str, Any], self.value(key)))
        self.put(key, product_to_json(product))
        entries = [index_entry(r.order_id, r.quantity or 0) for r in reserved]
        self.append(reservations_index(product.id), *v1, *entries, chunk_size=CHUNK_SIZE)


def _reservation(order_id: int, data: Any | None) -> OrderReservation:
    return OrderReservation(order_id) if data is None else reservation_from_json(data)


def _product(data: Any | None) -> Product | None:
    return None if data is None else product_from_json(data)
