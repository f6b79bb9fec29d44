"""Delivery state on the Dapr state API: each read returns the ETag its write must carry."""

from dataclasses import dataclass
from datetime import datetime

from dapr_helpers.state import JsonStore, Operation, checked_write

from delivery_app.adapters.records import (
    COURIERS_KEY,
    SLOTS_KEY,
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


@dataclass(frozen=True)
class ReserveReads:
    """What a reserve reads, in one round trip, each with the ETag its write must carry."""

    booking: tuple[OrderBooking, str | None]  # no ETag: a new record
    slot: tuple[Slot, str | None]
    slot_index: tuple[list[str], str | None]
    added_couriers: list[Courier]


class DeliveryRepository:
    def __init__(self, store: JsonStore) -> None:
        self.store = store

    async def added_couriers(self) -> tuple[list[Courier], str | None]:
        data, etag = await self.store.get_json(COURIERS_KEY)
        return ([] if data is None else couriers_from_json(data)), etag

    def save_added_couriers(self, added: list[Courier], etag: str | None) -> Operation:
        return checked_write(COURIERS_KEY, couriers_to_json(added), etag)

    async def slot(self, start: datetime) -> tuple[Slot, str | None]:
        """The slot with its ETag; empty, with none, if nobody booked it yet."""
        data, etag = await self.store.get_json(slot_key(start))
        return (Slot(start) if data is None else slot_from_json(data)), etag

    def save_slot(self, slot: Slot, etag: str | None) -> Operation:
        return checked_write(slot_key(slot.start), slot_to_json(slot), etag)

    def save_slot_index(self, starts: list[str], etag: str | None) -> Operation:
        return checked_write(SLOTS_KEY, {"slots": starts}, etag)

    async def slots(self) -> list[Slot]:
        data, _ = await self.store.get_json(SLOTS_KEY)
        starts = [] if data is None else data["slots"]
        found = await self.store.bulk_get_json([slot_key(datetime.fromisoformat(s)) for s in starts])
        return [slot_from_json(value) for value, _ in found.values() if value is not None]

    async def booking(self, order_id: int) -> tuple[OrderBooking, str | None]:
        """The order's booking with its ETag; empty, with none, if it is new."""
        data, etag = await self.store.get_json(booking_key(order_id))
        return (OrderBooking(order_id) if data is None else booking_from_json(data)), etag

    async def for_reserve(self, order_id: int, start: datetime) -> ReserveReads:
        """The booking, the slot, the slot index and the added couriers, in one read;
        each one missing comes back empty, with no ETag (it is written insert-only)."""
        keys = [booking_key(order_id), slot_key(start), SLOTS_KEY, COURIERS_KEY]
        found = await self.store.bulk_get_json(keys)
        [(booking, booking_etag), (slot, slot_etag), (index, index_etag), (couriers, _)] = [
            found[k] for k in keys
        ]
        return ReserveReads(
            booking=(OrderBooking(order_id) if booking is None else booking_from_json(booking), booking_etag),
            slot=(Slot(start) if slot is None else slot_from_json(slot), slot_etag),
            slot_index=([] if index is None else index["slots"], index_etag),
            added_couriers=[] if couriers is None else couriers_from_json(couriers),
        )

    async def find_booking(self, order_id: int) -> OrderBooking | None:
        data, _ = await self.store.get_json(booking_key(order_id))
        return None if data is None else booking_from_json(data)

    def save_booking(self, booking: OrderBooking, etag: str | None) -> Operation:
        return checked_write(booking_key(booking.order_id), booking_to_json(booking), etag)

    async def commit(self, *ops: Operation) -> None:
        """All or nothing; a stale ETag raises `ConcurrencyConflict`."""
        await self.store.transact(list(ops))
