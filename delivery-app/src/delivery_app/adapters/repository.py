"""Delivery state on the Dapr state API.

`DeliveryRepository` answers the API's reads. A `DeliveryUnit`, one per attempt
of a write, reads what a command decides on with the ETags its writes must
carry, and commits the command's changes in one transaction.
"""

from datetime import datetime
from typing import Any, cast

from dapr_helpers.index import DEFAULT_CHUNK, ChunkedIndex, Page, page_in_memory
from dapr_helpers.state import JsonStore
from dapr_helpers.unit_of_work import UnitOfWork

from delivery_app.adapters.records import (
    BOOKINGS_INDEX,
    COURIERS_KEY,
    V1_SLOTS_KEY,
    booking_from_json,
    booking_key,
    booking_to_json,
    couriers_from_json,
    couriers_to_json,
    slot_from_json,
    slot_key,
    slot_to_json,
)
from delivery_app.domain.booking import OrderBooking
from delivery_app.domain.courier import Courier
from delivery_app.domain.slot import Slot


class DeliveryRepository:
    def __init__(self, store: JsonStore, chunk_size: int = DEFAULT_CHUNK) -> None:
        self.store = store
        self.index = ChunkedIndex(store, chunk_size)

    def unit(self) -> "DeliveryUnit":
        return DeliveryUnit(self.store, self.index.chunk_size)

    async def added_couriers(self) -> list[Courier]:
        data, _ = await self.store.get_json(COURIERS_KEY)
        return _couriers(data)

    async def slot(self, start: datetime) -> Slot:
        """The slot; empty if nobody booked it yet."""
        data, _ = await self.store.get_json(slot_key(start))
        return _slot(start, data)

    async def booked_page(self, limit: int, before: int | None) -> Page:
        """Booked order ids, newest first; read from the v1 records until the first new booking."""
        page = await self.index.page(BOOKINGS_INDEX, limit, before)
        if page.total == 0:
            data, _ = await self.store.get_json(V1_SLOTS_KEY)
            if data is not None:
                return page_in_memory(await v1_booked(self.store, data), limit, before)
        return page

    async def find_booking(self, order_id: int) -> OrderBooking | None:
        data, _ = await self.store.get_json(booking_key(order_id))
        return None if data is None else booking_from_json(data)

    async def find_bookings(self, order_ids: list[int]) -> dict[int, OrderBooking]:
        """The orders' bookings that exist, in one read."""
        found = await self.store.bulk_get_json([booking_key(i) for i in order_ids])
        return {
            i: booking_from_json(cast(dict[str, Any], found[booking_key(i)][0]))
            for i in order_ids
            if found[booking_key(i)][0]
        }


class DeliveryUnit(UnitOfWork):
    """Delivery's records for one read-decide-write."""

    def __init__(self, store: JsonStore, chunk_size: int = DEFAULT_CHUNK) -> None:
        super().__init__(store)
        self.chunk_size = chunk_size

    async def for_reserve(self, order_id: int, start: datetime) -> tuple[OrderBooking, Slot, list[Courier]]:
        """What a reserve needs, in one read: the order's booking (a new one if it has none),
        the slot (empty if nobody booked it yet), the couriers added through the API and
        the head of the bookings index, which a booking appends to."""
        keys = [booking_key(order_id), slot_key(start), BOOKINGS_INDEX, COURIERS_KEY]
        booking, slot, _, couriers = (await self.get_many(keys)).values()
        return _booking(order_id, booking), _slot(start, slot), _couriers(couriers)

    async def booking(self, order_id: int) -> OrderBooking:
        """The order's booking; a new one if it has none."""
        return _booking(order_id, await self.get(booking_key(order_id)))

    async def slot(self, start: datetime) -> Slot:
        """The slot; empty if nobody booked it yet."""
        return _slot(start, await self.get(slot_key(start)))

    async def added_couriers(self) -> list[Courier]:
        return _couriers(await self.get(COURIERS_KEY))

    def save_added_couriers(self, added: list[Courier]) -> None:
        self.put(COURIERS_KEY, couriers_to_json(added))

    def save_booking(self, booking: OrderBooking) -> None:
        self.put(booking_key(booking.order_id), booking_to_json(booking))

    def save_slot(self, slot: Slot) -> None:
        key = slot_key(slot.start)
        if slot.bookings or self.value(key) is not None:  # an empty slot with no record needs none
            self.put(key, slot_to_json(slot))

    async def add_booked(self, order_id: int) -> None:
        """The booking's entry in the bookings index. The first one on a v1 store also moves
        the v1 bookings in and deletes `slots` (with its ETag), in the same transaction."""
        booked = [order_id]
        if self.value(BOOKINGS_INDEX) is None and (v1 := await self.get(V1_SLOTS_KEY)) is not None:
            booked = [*await v1_booked(self.store, v1), order_id]
            self.delete(V1_SLOTS_KEY)
        self.append(BOOKINGS_INDEX, *booked, chunk_size=self.chunk_size)


async def v1_booked(store: JsonStore, slots: Any) -> list[int]:
    """The orders booked in the slots a v1 `slots` record lists, ascending: v1 kept no
    booking times, and order ids grow with time. Read past any unit: they are moved, not
    decided on, and a unit's copy of a slot may hold the booking being made."""
    found = await store.bulk_get_json([slot_key(datetime.fromisoformat(s)) for s in slots["slots"]])
    return sorted({order_id for slot, _ in found.values() if slot for order_id in slot["bookings"].values()})


def _booking(order_id: int, data: Any | None) -> OrderBooking:
    return OrderBooking(order_id) if data is None else booking_from_json(data)


def _slot(start: datetime, data: Any | None) -> Slot:
    return Slot(start) if data is None else slot_from_json(data)


def _couriers(data: Any | None) -> list[Courier]:
    return [] if data is None else couriers_from_json(data)
