"""Stock state on the Dapr state API: each read returns the ETag its write must carry."""

from dapr_helpers.state import JsonStore, Operation, Upsert, checked_write

from stock_app.adapters.records import (
    SEQUENCE_KEY,
    product_from_json,
    product_key,
    product_to_json,
    reservation_from_json,
    reservation_key,
    reservation_to_json,
)
from stock_app.domain.product import Product
from stock_app.domain.reservation import OrderReservation


class StockRepository:
    def __init__(self, store: JsonStore) -> None:
        self.store = store

    async def sequence(self) -> tuple[int, str | None]:
        data, etag = await self.store.get_json(SEQUENCE_KEY)
        return (0 if data is None else data["last"]), etag

    def save_sequence(self, last: int, etag: str | None) -> Operation:
        return checked_write(SEQUENCE_KEY, {"last": last}, etag)

    async def product(self, product_id: int) -> tuple[Product | None, str | None]:
        data, etag = await self.store.get_json(product_key(product_id))
        return (None, None) if data is None else (product_from_json(data), etag)

    async def products(self) -> list[Product]:
        data, _ = await self.store.get_json(SEQUENCE_KEY)
        last = 0 if data is None else data["last"]
        found = await self.store.bulk_get_json([product_key(i) for i in range(1, last + 1)])
        return [product_from_json(value) for value, _ in found.values() if value is not None]

    def save_product(self, product: Product, etag: str | None) -> Upsert:
        return Upsert(product_key(product.id), product_to_json(product), etag)

    async def reservation(self, order_id: int) -> tuple[OrderReservation, str | None]:
        """The order's reservation with its ETag; empty, with none, if it is new."""
        data, etag = await self.store.get_json(reservation_key(order_id))
        return (OrderReservation(order_id) if data is None else reservation_from_json(data)), etag

    async def reservation_and_product(
        self, order_id: int, product_id: int
    ) -> tuple[tuple[OrderReservation, str | None], tuple[Product | None, str | None]]:
        """What a reserve needs, in one read: the order's reservation (empty, with no
        ETag, if it is new) and the product it would take from (None if there is none)."""
        key, pkey = reservation_key(order_id), product_key(product_id)
        found = await self.store.bulk_get_json([key, pkey])
        (data, etag), (pdata, petag) = found[key], found[pkey]
        reservation = OrderReservation(order_id) if data is None else reservation_from_json(data)
        product = (None, None) if pdata is None else (product_from_json(pdata), petag)
        return (reservation, etag), product

    async def find_reservation(self, order_id: int) -> OrderReservation | None:
        data, _ = await self.store.get_json(reservation_key(order_id))
        return None if data is None else reservation_from_json(data)

    def save_reservation(self, reservation: OrderReservation, etag: str | None) -> Operation:
        return checked_write(reservation_key(reservation.order_id), reservation_to_json(reservation), etag)

    async def commit(self, *ops: Operation) -> None:
        """All or nothing; a stale ETag raises `ConcurrencyConflict`."""
        await self.store.transact(list(ops))
