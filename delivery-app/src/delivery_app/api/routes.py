"""Public routes under `/delivery`."""

from datetime import datetime
from typing import Annotated

from dapr_helpers.paging import PAGED, Before, Limit, page_headers
from dapr_helpers.problems import Problem
from fastapi import APIRouter, Request, Response, status
from pydantic import BeforeValidator

from delivery_app.api.deps import Couriers
from delivery_app.api.schemas import BookingOut, CourierIn, CourierOut, OrderBookingOut, SlotOut
from delivery_app.domain.slot import iso

router = APIRouter(prefix="/delivery", tags=["delivery"])


def _iso_8601(value: object) -> object:
    """ISO 8601 text only, as orders read `dtime`: pydantic alone takes `0` for a Unix time."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:  # a 422 naming `dtime`
            raise ValueError(f"{value!r} is not an ISO 8601 time such as 2030-01-08T10:00:00Z") from None
    return value


SlotTime = Annotated[datetime, BeforeValidator(_iso_8601)]


@router.get("", responses=PAGED)
@router.get("/", include_in_schema=False)
async def list_bookings(
    couriers: Couriers, request: Request, response: Response, limit: Limit = 20, before: Before = None
) -> list[BookingOut]:
    """The courier bookings, newest booked first, paged: each as its order's record says now
    (`status` `booked`, or `released` once the saga undid it, the courier then free again).

    `X-Total-Count` counts every booking made; `Link: <...?limit=&before=>; rel="next"`
    names the next, older, page when there is one."""
    page = await couriers.bookings(limit, before)
    page_headers(request, response, limit, page.total, page.next_cursor)
    return [BookingOut.of(booking) for booking in page.bookings]


@router.get("/couriers")
async def list_couriers(couriers: Couriers) -> list[CourierOut]:
    return [CourierOut(id=c.id, name=c.name) for c in await couriers.roster()]


@router.post("/couriers", status_code=status.HTTP_201_CREATED)
async def add_courier(couriers: Couriers, request: CourierIn) -> CourierOut:
    courier = await couriers.add(request.name)
    return CourierOut(id=courier.id, name=courier.name)


@router.get("/slots/{dtime}")
async def get_slot(couriers: Couriers, dtime: SlotTime) -> SlotOut:
    """The slot holding `dtime` (ISO 8601; naive means UTC): its bookings and free couriers."""
    slot = await couriers.slot(dtime)
    roster = [c.id for c in await couriers.roster()]
    return SlotOut(
        slot_start=iso(slot.start),
        slot_end=iso(slot.end),
        free_couriers=slot.free(roster),
        bookings=slot.bookings,
    )


@router.get("/bookings/{order_id}")
async def get_order_booking(couriers: Couriers, order_id: int) -> OrderBookingOut:
    """What delivery did for one order (`booked`, `refused`, `released`, `cancelled`)."""
    booking = await couriers.booking(order_id)
    if booking is None:
        raise Problem(404, "unknown_order", f"delivery has seen no command for order {order_id}")
    return OrderBookingOut(
        order_id=booking.order_id,
        status=booking.status,
        slot_start=None if booking.slot_start is None else iso(booking.slot_start),
        courier=booking.courier,
    )
