"""Domain objects to and from the JSON kept in the state store."""

from decimal import Decimal
from typing import Any

from stock_app.domain.product import Product
from stock_app.domain.reservation import OrderReservation, Outcome

SEQUENCE_KEY = "product-seq"  # {"last": <the highest product id handed out>}


def product_key(product_id: int) -> str:
    return f"product:{product_id}"


def reservation_key(order_id: int) -> str:
    return f"reservation:{order_id}"


def product_to_json(p: Product) -> dict[str, Any]:
    return {
        "id": p.id,
        "description": p.description,
        "price": None if p.price is None else str(p.price),
        "registered": p.registered,
        "restocked": p.restocked,
        "available": p.available,
        # JSON object keys are strings.
        "reservations": {str(order_id): units for order_id, units in p.reservations.items()},
    }


def product_from_json(d: dict[str, Any]) -> Product:
    return Product(
        id=d["id"],
        description=d["description"],
        registered=d["registered"],
        available=d["available"],
        price=None if d["price"] is None else Decimal(d["price"]),
        restocked=d["restocked"],
        reservations={int(order_id): units for order_id, units in d["reservations"].items()},
    )


def reservation_to_json(r: OrderReservation) -> dict[str, Any]:
    return {
        "order_id": r.order_id,
        "status": r.status,
        "product_id": r.product_id,
        "quantity": r.quantity,
        "outcomes": {action: vars(o) for action, o in r.outcomes.items()},
    }


def reservation_from_json(d: dict[str, Any]) -> OrderReservation:
    return OrderReservation(
        order_id=d["order_id"],
        status=d["status"],
        product_id=d["product_id"],
        quantity=d["quantity"],
        outcomes={action: Outcome(**o) for action, o in d["outcomes"].items()},
    )
