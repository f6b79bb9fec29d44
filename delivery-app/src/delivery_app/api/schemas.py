"""Public request and response bodies; field names follow the assignment's client."""

from typing import Annotated, Literal

from dapr_helpers.fields import NotBlank
from pydantic import BaseModel, StringConstraints

from delivery_app.domain.booking import OrderBooking
from delivery_app.domain.slot import Slot, iso


class CourierIn(BaseModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200), NotBlank]


class CourierOut(BaseModel):
    id: str
    name: str


class BookingOut(BaseModel):
    id: int  # a booking is the order's: at most one per order
    id_order: int
    dtime: str  # the slot's start, ISO 8601 UTC
    slot_end: str
    courier: str
    status: Literal["booked", "released"]  # as the order's booking record says now

    @classmethod
    def of(cls, booking: OrderBooking) -> "BookingOut":
        assert booking.slot_start is not None and booking.courier is not None  # it was booked
        slot = Slot(booking.slot_start)
        return cls(
            id=booking.order_id,
            id_order=booking.order_id,
            dtime=iso(slot.start),
            slot_end=iso(slot.end),
            courier=booking.courier,
            status="released" if booking.status == "released" else "booked",
        )


class SlotOut(BaseModel):
    slot_start: str
    slot_end: str
    free_couriers: list[str]
    bookings: dict[str, int]


class OrderBookingOut(BaseModel):
    order_id: int
    status: str
    slot_start: str | None
    courier: str | None
