"""Public request and response bodies; field names follow the assignment's client."""

from typing import Annotated

from pydantic import BaseModel, StringConstraints


class CourierIn(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class CourierOut(BaseModel):
    id: str
    name: str


class BookingOut(BaseModel):
    id: int  # a booking is the order's: at most one per order
    id_order: int
    dtime: str  # the slot's start, ISO 8601 UTC
    slot_end: str
    courier: str


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
