"""Domain objects to and from the JSON kept in the state store."""

from datetime import datetime
from typing import Any

from dapr_helpers.saga.participation import outcomes_from_json, outcomes_to_json

from delivery_app.domain.booking import OrderBooking
from delivery_app.domain.courier import Courier
from delivery_app.domain.slot import Slot, iso

COURIERS_KEY = "couriers"  # {"added": [{"id", "name"}]}: the couriers added through the API
BOOKINGS_INDEX = "bookings"  # a ChunkedIndex of booked order ids, in booking order
# v1 only, moved into BOOKINGS_INDEX by the first booking after an upgrade: it grew with every
# slot ever booked, {"slots": [iso start, ...]}.
V1_SLOTS_KEY = "slots"


def slot_key(start: datetime) -> str:
    return f"slot:{iso(start)}"


def booking_key(order_id: int) -> str:
    return f"booking:{order_id}"


def slot_to_json(slot: Slot) -> dict[str, Any]:
    return {"start": iso(slot.start), "bookings": slot.bookings}


def slot_from_json(d: dict[str, Any]) -> Slot:
    return Slot(datetime.fromisoformat(d["start"]), dict(d["bookings"]))


def couriers_to_json(added: list[Courier]) -> dict[str, Any]:
    return {"added": [{"id": c.id, "name": c.name} for c in added]}


def couriers_from_json(d: dict[str, Any]) -> list[Courier]:
    return [Courier(c["id"], c["name"]) for c in d["added"]]


def booking_to_json(b: OrderBooking) -> dict[str, Any]:
    return {
        "order_id": b.order_id,
        "status": b.status,
        "slot_start": None if b.slot_start is None else iso(b.slot_start),
        "courier": b.courier,
        "outcomes": outcomes_to_json(b.outcomes),
    }


def booking_from_json(d: dict[str, Any]) -> OrderBooking:
    return OrderBooking(
        order_id=d["order_id"],
        status=d["status"],
        slot_start=None if d["slot_start"] is None else datetime.fromisoformat(d["slot_start"]),
        courier=d["courier"],
        outcomes=outcomes_from_json(d["outcomes"]),
    )
