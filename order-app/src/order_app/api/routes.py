"""Public routes under /orders."""

import asyncio
from typing import Annotated, Any

from dapr_helpers.shutdown import Shutdown, wait_or_stop
from fastapi import APIRouter, Header, HTTPException, Query, Request, Response

from order_app.api.deps import DeadLettersDep, OrdersDep, OutcomesDep, ServiceDep, SettingsDep
from order_app.api.schemas import CreateOrder, OrderOut, OrderPage
from order_app.domain import Order
from order_app.service.outcomes import OutcomeSignals

router = APIRouter(prefix="/orders", tags=["orders"])
MAX_SCAN = 50  # ids skipped by failed creations, at most, when looking for the last order


@router.post("", status_code=201, response_model=OrderOut, include_in_schema=False)
@router.post(
    "/",
    status_code=201,
    response_model=OrderOut,
    responses={200: {"description": "replay of an earlier request with the same Idempotency-Key"}},
)
async def create_order(
    body: CreateOrder,
    response: Response,
    service: ServiceDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> OrderOut:
    """Create an order (201, pending) and start its saga.

    With an `Idempotency-Key`, a retry with the same body returns the same order
    with 200 and `Idempotent-Replayed: true`, and starts no second saga; the same
    key with a different body is refused (422, `idempotency_key_reused`).
    """
    order, created = await service.place(body.to_domain(), idempotency_key)
    response.headers["Location"] = f"/orders/{order.id}"
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return OrderOut.of(order)


@router.get("/last", response_model=OrderOut)
async def last_order(orders: OrdersDep) -> OrderOut:
    """The most recently created order."""
    last = await orders.last_id()
    candidates = list(range(last, max(last - MAX_SCAN, 0), -1))
    found = await orders.get_many(candidates)
    if not found:
        raise HTTPException(404, "no order has been created yet")
    return OrderOut.of(max(found, key=lambda o: o.id))


@router.get("/dead-letters")
async def dead_letters(dead: DeadLettersDep) -> dict[str, Any]:
    """Replies Dapr gave up delivering to the saga: how many, and the latest (see docs/messaging.md)."""
    return await dead.read()


@router.get("/{order_id}", response_model=OrderOut)
async def get_order(
    order_id: int,
    request: Request,
    orders: OrdersDep,
    outcomes: OutcomesDep,
    settings: SettingsDep,
    wait: Annotated[int, Query(ge=0, description="seconds to wait for a final status (capped)")] = 0,
) -> OrderOut:
    """The order. With `wait`, once it is final or after that many seconds, whichever comes
    first; a wait also ends at once when this instance shuts down, with the order as it is then."""
    if wait:
        seconds = min(wait, settings.max_wait_seconds)
        shutdown: Shutdown = request.app.state.shutdown
        order = await _wait_final(order_id, orders, outcomes, seconds, settings.wait_poll_seconds, shutdown)
    else:
        order = await orders.get(order_id)
    if order is None:
        raise HTTPException(404, f"order {order_id} does not exist")
    return OrderOut.of(order)


@router.get("", response_model=OrderPage)
async def list_orders(
    orders: OrdersDep,
    login: Annotated[str | None, Query(description="only this login's orders")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="page size")] = 20,
    offset: Annotated[int, Query(ge=0, description="how many of the newest orders to skip")] = 0,
) -> OrderPage:
    """Orders, newest first; only `login`'s when given. `total` counts them all.

    A page costs the same however many orders there are: a login's ids are kept
    in chunks of a fixed size, and a page reads only the chunks it reaches.
    """
    if login is not None:
        page = await orders.login_page(login, limit, offset)
        ids, total = page.entries, page.total
    else:
        last = await orders.last_id()  # every id up to it was handed out
        ids, total = list(range(last - offset, max(last - offset - limit, 0), -1)), last
    found = await orders.get_many(ids)
    return OrderPage(items=[OrderOut.of(o) for o in found], total=total, limit=limit, offset=offset)


async def _wait_final(
    order_id: int, orders: OrdersDep, outcomes: OutcomeSignals, seconds: int, poll: float, shutdown: Shutdown
) -> Order | None:
    """The record once final, at the deadline, or when shutdown begins; None if there is no such order.

    Only the record is read, never the workflow engine: it is the order's truth
    (a purged saga's history is gone), and the saga's activity wakes the wait
    the moment it records the outcome in this process (`order_app.service.outcomes`).

    On shutdown the wait ends as at its deadline, with the record as last read: an
    answer the client already handles (poll again), where holding the request would
    hold uvicorn's shutdown for up to `max_wait_seconds`.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    with outcomes.watch(order_id) as recorded:  # before the read, so no outcome slips between
        while True:
            order = await orders.get(order_id)
            if order is None or order.is_final or loop.time() >= deadline or shutdown.stopping:
                return order
            await wait_or_stop(recorded, shutdown, min(poll, deadline - loop.time()))
