"""Delivery's side of one order: booked once, released at most once, tombstoned if released first.

The lifecycle (first outcome per action kept, tombstone) is `Participation`'s; this
record adds the slot and the courier booked in it.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dapr_helpers.saga.participation import Outcome, Participation

from delivery_app.domain.errors import DeliveryError, OrderCancelled
from delivery_app.domain.slot import Slot, iso


@dataclass
class OrderBooking(Participation):
    DO, UNDO, DONE, UNDONE = "reserve", "release", "booked", "released"
    REFUSALS, CANCELLED = DeliveryError, OrderCancelled

    slot_start: datetime | None = None
    courier: str | None = None

    def reserve(self, slot: Slot, roster: list[str]) -> Outcome:
        """Book a free courier of `roster` in `slot` unless the order was cancelled."""
        self.slot_start = slot.start

        def book() -> tuple[str, dict[str, Any]]:
            self.courier = slot.book(self.order_id, roster)
            details = {"courier": self.courier, "slot_start": iso(slot.start)}
            return f"{self.courier} booked for {iso(slot.start)}", details

        return self.do(book)

    def release(self, slot: Slot | None) -> Outcome:
        """Free the booked courier; with no booking yet, leave a tombstone. Always succeeds."""

        def free() -> tuple[str, dict[str, Any]]:
            assert slot is not None
            freed = slot.release(self.order_id)
            return f"{freed} released", {"courier": freed}

        return self.undo(free, nothing={"courier": None})
