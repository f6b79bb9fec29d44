"""Delivery's side of one order: booked once, released at most once, tombstoned if released first.

The first outcome of each action is kept here; a duplicate command gets it back
and changes nothing.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from delivery_app.domain.errors import DeliveryError, OrderCancelled
from delivery_app.domain.slot import Slot, iso

Status = Literal["new", "booked", "refused", "released", "cancelled"]
Action = Literal["reserve", "release"]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    reason: str | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class OrderBooking:
    order_id: int
    status: Status = "new"
    slot_start: datetime | None = None
    courier: str | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def outcome_of(self, action: Action) -> Outcome | None:
        return self.outcomes.get(action)

    def reserve(self, slot: Slot, roster: list[str]) -> Outcome:
        """Book a free courier of `roster` in `slot` unless the order was cancelled."""
        self.slot_start = slot.start
        try:
            if self.status == "cancelled":
                raise OrderCancelled(self.order_id)
            self.courier = slot.book(self.order_id, roster)
        except DeliveryError as err:
            self.status = "refused" if self.status == "new" else self.status
            outcome = Outcome(False, err.code, str(err))
        else:
            self.status = "booked"
            details = {"courier": self.courier, "slot_start": iso(slot.start)}
            outcome = Outcome(True, None, f"{self.courier} booked for {iso(slot.start)}", details)
        self.outcomes["reserve"] = outcome
        return outcome

    def release(self, slot: Slot | None) -> Outcome:
        """Free the booked courier; with no booking yet, leave a tombstone. Always succeeds."""
        freed = None
        if self.status == "booked":
            assert slot is not None
            freed = slot.release(self.order_id)
            self.status = "released"
            message = f"{freed} released"
        elif self.status == "new":
            self.status = "cancelled"  # tombstone: a late reserve is refused
            message = "nothing was booked; order cancelled"
        else:
            message = "nothing to release"
        outcome = Outcome(True, None, message, {"courier": freed})
        self.outcomes["release"] = outcome
        return outcome
