"""Delivery state on the Dapr state API: each read returns the ETag its write must carry."""

from dataclasses import dataclass
from datetime import datetime

from dapr_helpers.state import JsonStore, Upsert

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

    booking: tuple[OrderBooking, str]
    slot: tuple[Slot, str]
    slot_index: tuple[list[str], str]
    added_couriers: list[Courier]


class DeliveryRepository:
    def __init__(self, store: JsonStore) -> None:
        self.store = store

    async def added_couriers(self) -> tuple[list[Courier], str]:
        data, etag = await self.store.get_or_create_json(COURIERS_KEY, couriers_to_json([]))
        return couriers_from_json(data), etag

    def save_added_couriers(self, added: list[Courier], etag: str) -> Upsert:
        return Upsert(COURIERS_KEY, couriers_to_json(added), etag)

    async def slot(self, start: datetime) -> tuple[Slot, str]:
        data, etag = await self.store.get_or_create_json(slot_key(start), slot_to_json(Slot(start)))
        return slot_from_json(data), etag

    def save_slot(self, slot: Slot, etag: str) -> Upsert:
        return Upsert(slot_key(slot.start), slot_to_json(slot), etag)

    async def slot_index(self) -> tuple[list[str], str]:
        data, etag = await self.store.get_or_create_json(SLOTS_KEY, {"slots": []})
        return data["slots"], etag

    def save_slot_index(self, starts: list[str], etag: str) -> Upsert:
        return Upsert(SLOTS_KEY, {"slots": starts}, etag)

    async def slots(self) -> list[Slot]:
        data, _ = await self.store.get_json(SLOTS_KEY)
        starts = [] if data is None else data["slots"]
        found = await self.store.bulk_get_json([slot_key(datetime.fromisoformat(s)) for s in starts])
        return [slot_from_json(value) for value, _ in found.values() if value is not None]

    async def booking(self, order_id: int) -> tuple[OrderBooking, str]:
        data, etag = await self.store.get_or_create_json(
            booking_key(order_id), booking_to_json(OrderBooking(order_id))
        )
        return booking_from_json(data), etag

    async def for_reserve(self, order_id: int, start: datetime) -> ReserveReads:
        """The booking, the slot, the slot index and the added couriers; each created empty if new."""
        new = {booking_key(order_id): booking_to_json(OrderBooking(order_id))}  # a new order's
        shared = {
            slot_key(start): slot_to_json(Slot(start)),
            SLOTS_KEY: {"slots": []},
            COURIERS_KEY: couriers_to_json([]),
        }
        keys = [*new, *shared]
        found = await self.store.read_many(keys, new=new, create=shared)
        (booking, booking_etag), (slot, slot_etag), (index, index_etag), (couriers, _) = (
            found[k] for k in keys
        )
        assert booking_etag and slot_etag and index_etag  # read_many made sure they exist
        return ReserveReads(
            booking=(booking_from_json(booking), booking_etag),
            slot=(slot_from_json(slot), slot_etag),
            slot_index=(index["slots"], index_etag),
            added_couriers=couriers_from_json(couriers),
        )

    async def find_booking(self, order_id: int) -> OrderBooking | None:
        data, _ = await self.store.get_json(booking_key(order_id))
        return None if data is None else booking_from_json(data)

    def save_booking(self, booking: OrderBooking, etag: str) -> Upsert:
        return Upsert(booking_key(booking.order_id), booking_to_json(booking), etag)

    async def commit(self, *ops: Upsert) -> None:
        """All or nothing; a stale ETag raises `ConcurrencyConflict`."""
        await self.store.transact(list(ops))
