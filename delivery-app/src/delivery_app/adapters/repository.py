"""Delivery state on the Dapr state API: each read returns the ETag its write must carry."""

from dataclasses import dataclass
from datetime import datetime

from dapr_helpers.index import DEFAULT_CHUNK, ChunkedIndex, IndexHead, Page, head_from
from dapr_helpers.state import Delete, JsonStore, Operation, checked_write

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


@dataclass(frozen=True)
class ReserveReads:
    """What a reserve reads, in one round trip, each with the ETag its write must carry."""

    booking: tuple[OrderBooking, str | None]  # no ETag: a new record
    slot: tuple[Slot, str | None]
    index: IndexHead  # the bookings index, which a booking appends to
    added_couriers: list[Courier]


@dataclass(frozen=True)
class V1Bookings:
    """A store written before the bookings index: its `slots` record and the order ids booked in them."""

    order_ids: list[int]  # ascending: v1 kept no booking times, and order ids grow with time
    etag: str


class DeliveryRepository:
    def __init__(self, store: JsonStore, chunk_size: int = DEFAULT_CHUNK) -> None:
        self.store = store
        self.index = ChunkedIndex(store, chunk_size)

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

    async def booking(self, order_id: int) -> tuple[OrderBooking, str | None]:
        """The order's booking with its ETag; empty, with none, if it is new."""
        data, etag = await self.store.get_json(booking_key(order_id))
        return (OrderBooking(order_id) if data is None else booking_from_json(data)), etag

    async def for_reserve(self, order_id: int, start: datetime) -> ReserveReads:
        """The booking, the slot, the index head and the added couriers, in one read;
        each one missing comes back empty, with no ETag (it is written insert-only)."""
        keys = [booking_key(order_id), slot_key(start), BOOKINGS_INDEX, COURIERS_KEY]
        found = await self.store.bulk_get_json(keys)
        [(booking, booking_etag), (slot, slot_etag), (index, index_etag), (couriers, _)] = [
            found[k] for k in keys
        ]
        return ReserveReads(
            booking=(OrderBooking(order_id) if booking is None else booking_from_json(booking), booking_etag),
            slot=(Slot(start) if slot is None else slot_from_json(slot), slot_etag),
            index=head_from(BOOKINGS_INDEX, index, index_etag, self.index.chunk_size),
            added_couriers=[] if couriers is None else couriers_from_json(couriers),
        )

    async def append_booked(self, head: IndexHead, order_id: int) -> list[Operation]:
        """The index writes for a new booking. The first one on a v1 store also moves the
        v1 bookings in and deletes `slots` (with its ETag), in the same transaction."""
        if head.etag is None and (v1 := await self.v1_bookings()) is not None:
            return [*head.append(*v1.order_ids, order_id), Delete(V1_SLOTS_KEY, v1.etag)]
        return head.append(order_id)

    async def booked_page(self, limit: int, before: int | None) -> Page:
        """Booked order ids, newest first; read from the v1 records until the first new booking."""
        page = await self.index.page(BOOKINGS_INDEX, limit, before)
        if page.total == 0 and (v1 := await self.v1_bookings()) is not None:
            return _page_of(v1.order_ids, limit, before)
        return page

    async def v1_bookings(self) -> V1Bookings | None:
        """The orders booked in the v1 `slots` (None if there is no such record)."""
        data, etag = await self.store.get_json(V1_SLOTS_KEY)
        if data is None or etag is None:
            return None
        found = await self.store.bulk_get_json([slot_key(datetime.fromisoformat(s)) for s in data["slots"]])
        slots = [slot for slot, _ in found.values() if slot is not None]
        ids = {order_id for slot in slots for order_id in slot["bookings"].values()}
        return V1Bookings(sorted(ids), etag)

    async def find_booking(self, order_id: int) -> OrderBooking | None:
        data, _ = await self.store.get_json(booking_key(order_id))
        return None if data is None else booking_from_json(data)

    async def find_bookings(self, order_ids: list[int]) -> dict[int, OrderBooking]:
        """The orders' bookings that exist, in one read."""
        found = await self.store.bulk_get_json([booking_key(i) for i in order_ids])
        return {i: booking_from_json(found[booking_key(i)][0]) for i in order_ids if found[booking_key(i)][0]}

    def save_booking(self, booking: OrderBooking, etag: str | None) -> Operation:
        return checked_write(booking_key(booking.order_id), booking_to_json(booking), etag)

    async def commit(self, *ops: Operation) -> None:
        """All or nothing; a stale ETag raises `ConcurrencyConflict`."""
        await self.store.transact(list(ops))


def _page_of(entries: list[int], limit: int, before: int | None) -> Page:
    """`ChunkedIndex.page` over a list held in memory (oldest first), same positions."""
    end = len(entries) if before is None else max(0, min(before, len(entries)))
    start = max(0, end - limit)
    return Page(entries[start:end][::-1], start if start > 0 else None, len(entries))
