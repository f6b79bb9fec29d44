"""Duplicated and reordered command deliveries change nothing they should not.

Each test POSTs the saga's CloudEvents to a participant's subscription route
exactly as its sidecar delivers them (dapr/dapr `pkg/runtime/subscription/
postman/http`), so it knows when each delivery has been handled. A
redelivery is the same CloudEvent, id included, POSTed again.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from .conftest import Api, future_slot
from .stack import Stack


def unknown_order_id() -> int:
    # Far above the order app's counter: these orders exist only in the messages.
    return 10**12 + uuid.uuid4().int % 10**9


def deliver(stack: Stack, app_id: str, topic: str, data: dict[str, Any], event_id: str | None = None) -> str:
    event_id = event_id or str(uuid.uuid4())
    envelope = {
        "specversion": "1.0",
        "id": event_id,
        "source": "order",
        "type": "com.dapr.event.sent",
        "datacontenttype": "application/json",
        "data": data,
        "topic": topic,
        "pubsubname": "pubsub",
    }
    r = httpx.post(
        f"http://127.0.0.1:{stack.apps[app_id].app_port}/events/pubsub/{topic}",
        json=envelope,
        headers={"content-type": "application/cloudevents+json"},
        timeout=10,
    )
    assert r.status_code == 200 and r.json().get("status", "SUCCESS") == "SUCCESS", r.text
    return event_id


def test_a_redelivered_stock_reserve_takes_units_once(api: Api, stack: Stack) -> None:
    product, order_id = api.new_product(10), unknown_order_id()
    command = {"order_id": order_id, "action": "reserve", "attempt": 1, "product_id": product, "quantity": 3}

    event_id = deliver(stack, "stock", "stock-commands", command)
    deliver(stack, "stock", "stock-commands", command, event_id)  # the broker's redelivery
    deliver(stack, "stock", "stock-commands", {**command, "attempt": 2})  # the orchestrator's re-send

    assert api.available(product) == 7
    assert api.http.get(f"/stock/reservations/{order_id}").json()["status"] == "reserved"


def test_a_redelivered_charge_takes_money_once(api: Api, stack: Stack) -> None:
    login, order_id = api.new_account(100), unknown_order_id()
    command = {"order_id": order_id, "action": "charge", "attempt": 1, "login": login, "amount": "12.50"}

    event_id = deliver(stack, "billing", "billing-commands", command)
    deliver(stack, "billing", "billing-commands", command, event_id)

    assert api.balance(login) == Decimal("87.50")


@pytest.mark.parametrize("release_first", [True, False], ids=["release-then-reserve", "reserve-then-release"])
def test_stock_release_and_reserve_in_either_order_leave_no_units_taken(
    api: Api, stack: Stack, release_first: bool
) -> None:
    product, order_id = api.new_product(10), unknown_order_id()
    reserve = {"order_id": order_id, "action": "reserve", "attempt": 1, "product_id": product, "quantity": 4}
    release = {"order_id": order_id, "action": "release", "attempt": 1}

    for command in [release, reserve] if release_first else [reserve, release]:
        deliver(stack, "stock", "stock-commands", command)

    assert api.available(product) == 10
    status = api.http.get(f"/stock/reservations/{order_id}").json()["status"]
    assert status == ("cancelled" if release_first else "released")


def test_a_courier_release_before_its_reserve_leaves_the_slot_free(api: Api, stack: Stack) -> None:
    order_id, slot = unknown_order_id(), future_slot()
    deliver(stack, "delivery", "delivery-commands", {"order_id": order_id, "action": "release", "attempt": 1})
    deliver(
        stack,
        "delivery",
        "delivery-commands",
        {"order_id": order_id, "action": "reserve", "attempt": 1, "slot_start": slot.isoformat() + "Z"},
    )

    assert api.bookings({order_id}) == []
    # The slot's only courier is still free for a real order.
    login, product = api.new_account(10), api.new_product(1)
    order = api.wait_final(api.create_order(login, product, 1, 1, slot).json()["id"])
    assert order["status"] == "completed", order


def test_a_refund_before_its_charge_means_the_charge_takes_nothing(api: Api, stack: Stack) -> None:
    login, order_id = api.new_account(50), unknown_order_id()
    deliver(stack, "billing", "billing-commands", {"order_id": order_id, "action": "refund", "attempt": 1})
    deliver(
        stack,
        "billing",
        "billing-commands",
        {"order_id": order_id, "action": "charge", "attempt": 1, "login": login, "amount": "20"},
    )

    assert api.balance(login) == Decimal(50)
