"""Concurrent orders never oversell a unit or double-book a courier slot."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from .conftest import Api, future_slot


def _create_all(api: Api, requests: list[tuple]) -> list[int]:
    def create(args: tuple) -> int:
        r = api.create_order(*args)
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    with ThreadPoolExecutor(max_workers=20) as pool:
        return list(pool.map(create, requests))


def test_twenty_concurrent_orders_for_five_units_complete_exactly_five(api: Api) -> None:
    login = api.new_account(1000)
    product = api.new_product(5)
    # Each order its own slot, so the courier roster is not what limits them.
    ids = _create_all(api, [(login, product, 1, 1, future_slot()) for _ in range(20)])

    orders = [api.wait_final(i, timeout=60) for i in ids]

    completed = [o for o in orders if o["status"] == "completed"]
    assert len(completed) == 5, [(o["status"], o["reason"], o["message"]) for o in orders]
    assert {o["reason"] for o in orders if o["status"] == "rejected"} == {"insufficient_stock"}
    assert api.available(product) == 0
    assert api.balance(login) == Decimal(1000 - 5)
    assert len(api.bookings(set(ids))) == 5


def test_concurrent_orders_for_the_last_courier_slot_book_it_once(api: Api) -> None:
    login = api.new_account(1000)
    product = api.new_product(100)
    slot = future_slot()
    ids = _create_all(api, [(login, product, 1, 1, slot) for _ in range(6)])

    orders = [api.wait_final(i, timeout=60) for i in ids]

    completed = [o for o in orders if o["status"] == "completed"]
    assert len(completed) == 1
    assert {o["reason"] for o in orders if o["status"] == "rejected"} == {"no_courier_available"}
    assert len(api.bookings(set(ids))) == 1
    assert api.available(product) == 99
    assert api.balance(login) == Decimal(999)
