"""Couriers and bookings: the roster, adding a courier, reading bookings and slots."""

from dataclasses import dataclass
from datetime import datetime

from dapr_helpers.state import retry_on_conflict

from delivery_app.adapters.repository import DeliveryRepository
from delivery_app.domain.booking import OrderBooking
from delivery_app.domain.courier import Courier, add_courier, default_roster
from delivery_app.domain.slot import Slot, slot_start


@dataclass(frozen=True)
class BookingPage:
    bookings: list[OrderBooking]  # newest booked first; `booked`, or `released` since
    next_cursor: int | None  # `before` for the next (older) page; None on the last
    total: int  # every booking ever made (released ones stay listed)


class CourierService:
    def __init__(self, repo: DeliveryRepository, default_names: list[str]) -> None:
        self.repo = repo
        self.defaults = default_roster(default_names)

    async def roster(self) -> list[Courier]:
        return self.roster_with(await self.repo.added_couriers())

    def roster_with(self, added: list[Courier]) -> list[Courier]:
        """The configured couriers, then the ones added through the API."""
        return self.defaults + added

    async def add(self, name: str) -> Courier:
        """The new courier's id is unique: the added list is written back with its ETag."""

        async def attempt() -> Courier:
            delivery = self.repo.unit()
            added = await delivery.added_couriers()
            courier = add_courier(self.defaults + added, name)
            delivery.save_added_couriers([*added, courier])
            await delivery.commit()
            return courier

        return await retry_on_conflict(attempt)

    async def bookings(self, limit: int, before: int | None = None) -> BookingPage:
        """A page of the bookings, newest booked first, each as its order's record says now."""
        page = await self.repo.booked_page(limit, before)
        found = await self.repo.find_bookings(page.entries)
        if missing := [i for i in page.entries if i not in found]:  # written with their index entries
            raise LookupError(f"bookings listed but missing: {missing}")
        return BookingPage([found[i] for i in page.entries], page.next_cursor, page.total)

    async def slot(self, dtime: datetime) -> Slot:
        return await self.repo.slot(slot_start(dtime))

    async def booking(self, order_id: int) -> OrderBooking | None:
        return await self.repo.find_booking(order_id)
