"""Public routes under `/stock`."""

from dapr_helpers.paging import PAGED, Before, Limit, page_headers
from dapr_helpers.problems import Problem
from fastapi import APIRouter, Request, Response, status

from stock_app.api.deps import Products
from stock_app.api.schemas import (
    OrderReservationOut,
    ProductOut,
    RegisterRequest,
    ReservationOut,
    RestockRequest,
)

router = APIRouter(prefix="/stock", tags=["stock"])


@router.get("")
@router.get("/", include_in_schema=False)
async def list_products(products: Products) -> list[ProductOut]:
    """Every position; `quantity` is the units available."""
    return [ProductOut.of(p) for p in await products.list()]


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(products: Products, request: RegisterRequest) -> ProductOut:
    """Register a position (`quntity` accepted for `quantity`); answers with its integer `id`."""
    return ProductOut.of(await products.register(request.description, request.quantity, request.price))


@router.get("/reservations/{order_id}")
async def get_order_reservation(products: Products, order_id: int) -> OrderReservationOut:
    """What stock did for one order (`reserved`, `refused`, `released`, `cancelled`)."""
    reservation = await products.reservation(order_id)
    if reservation is None:
        raise Problem(404, "unknown_order", f"stock has seen no command for order {order_id}")
    return OrderReservationOut(
        order_id=reservation.order_id,
        status=reservation.status,
        product_id=reservation.product_id,
        quantity=reservation.quantity,
    )


@router.get("/{product_id}")
async def get_product(products: Products, product_id: int) -> ProductOut:
    return ProductOut.of(await products.get(product_id))


@router.post("/{product_id}/restock")
async def restock(products: Products, product_id: int, request: RestockRequest) -> ProductOut:
    return ProductOut.of(await products.restock(product_id, request.quantity))


@router.get("/{product_id}/reservations", responses=PAGED)
async def get_reservations(
    products: Products,
    request: Request,
    response: Response,
    product_id: int,
    limit: Limit = 20,
    before: Before = None,
) -> list[ReservationOut]:
    """The orders that reserved units of this product, newest first, each as its reservation
    stands now: `quantity` is the units the order holds (0 once `released`), `reserved` the
    units its reserve took. Refused reserves take nothing and are not listed.

    Paged: `X-Total-Count` is the number of entries; `Link: rel="next"` gives the older page.
    The units held by orders add up to the product's `reserved`."""
    page = await products.reservations(product_id, limit, before)
    page_headers(request, response, limit, page.total, page.next_cursor)
    return [ReservationOut.of(r) for r in page.entries]
