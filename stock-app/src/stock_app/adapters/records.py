"""Domain objects to and from the JSON kept in the state store.

A product record holds its counts only. Version 1 embedded the units each order
held, `reservations: {order_id: units}`, and grew with every order: it is still
read (its counts derived from that map), and its next write moves the map into
the product's reservations index (`reservations_index`).
"""

from decimal import Decimal
from typing import Any

from dapr_helpers.saga.participation import outcomes_from_json, outcomes_to_json

from stock_app.domain.product import Product
from stock_app.domain.reservation import OrderReservation

SEQUENCE_KEY = "product-seq"  # {"last": <the highest product id handed out>}


def product_key(product_id: int) -> str:
    return f"product:{product_id}"


def reservation_key(order_id: int) -> str:
    return f"reservation:{order_id}"


def reservations_index(product_id: int) -> str:
    """The ChunkedIndex of the orders that reserved units of the product, oldest first."""
    return f"product-reservations:{product_id}"


def index_entry(order_id: int, quantity: int) -> dict[str, int]:
    """What a successful reserve appends: which order, and the units it took."""
    return {"order_id": order_id, "quantity": quantity}


def product_to_json(p: Product) -> dict[str, Any]:
    return {
        "id": p.id,
        "description": p.description,
        "price": None if p.price is None else str(p.price),
        "registered": p.registered,
        "restocked": p.restocked,
        "available": p.available,
        "reserved": p.reserved,
    }


def product_from_json(d: dict[str, Any]) -> Product:
    return Product(
        id=d["id"],
        description=d["description"],
        registered=d["registered"],
        available=d["available"],
        price=None if d["price"] is None else Decimal(d["price"]),
        restocked=d["restocked"],
        reserved=d["reserved"] if "reserved" in d else sum(d["reservations"].values()),  # v1: derived
    )


def v1_reservations(d: dict[str, Any]) -> list[dict[str, int]]:
    """A v1 record's embedded reservations as index entries, oldest first; [] for a v2 record.

    By order id: ids grow with time, and a JSONB store does not keep an object's key order."""
    held = sorted((int(order_id), units) for order_id, units in d.get("reservations", {}).items())
    return [index_entry(order_id, units) for order_id, units in held]


def reservation_to_json(r: OrderReservation) -> dict[str, Any]:
    return {
        "order_id": r.order_id,
        "status": r.status,
        "product_id": r.product_id,
        "quantity": r.quantity,
        "outcomes": outcomes_to_json(r.outcomes),
    }


def reservation_from_json(d: dict[str, Any]) -> OrderReservation:
    return OrderReservation(
        order_id=d["order_id"],
        status=d["status"],
        product_id=d["product_id"],
        quantity=d["quantity"],
        outcomes=outcomes_from_json(d["outcomes"]),
    )
